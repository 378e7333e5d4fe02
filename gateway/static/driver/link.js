// The /ws/driver socket (docs/realtime-protocol.md): connect with the session cookie (or a
// demo ?token=), reconnect with back-off, reconcile from `hello`, and send the offline queue
// in order: pings as they were made, each status change waiting for its answer.

import { refreshSession } from "/board/api.js";
import { showSignIn } from "/board/signin.js";
import { board, setStatus } from "/board/state.js";
import * as outbox from "./outbox.js";
import { app, saveJobs } from "./state.js";
import { addMessage, render, renderQueue, showResult } from "./view.js";

// Connecting again the same way cannot help after these (the protocol's final codes).
const FINAL = new Set([1003, 1009, 4400, 4401, 4403, 4410]);
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const REPLY_TIMEOUT_MS = 20_000;
const HEARTBEAT_MS = 25_000; // well inside the server's idle timeout
const SEND_PER_S = 15; // below the server's 20 messages/s per connection
const AGE_MARGIN_S = 30; // of the server's ping age limit, for the time on the way

let attempt = 0;
let retry = null;
let pumping = false;
let refreshed = false;
const waiting = new Map(); // ref -> resolve(reply | null)

function socketUrl() {
  const url = new URL("/ws/driver", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (board.token) url.searchParams.set("token", board.token);
  return url;
}

export function connect() {
  clearTimeout(retry);
  retry = null;
  if (app.socket || !app.me) return;
  if (!navigator.onLine) {
    setStatus("offline", "updates are kept");
    return;
  }
  setStatus(attempt ? "reconnecting" : "connecting");
  const socket = new WebSocket(socketUrl());
  app.socket = socket;
  board.socket = socket; // the board's sign-out closes it
  socket.onmessage = (event) => {
    if (app.socket === socket) receive(JSON.parse(event.data));
  };
  socket.onclose = (event) => closed(socket, event.code, event.reason);
}

function later() {
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
  attempt += 1;
  clearTimeout(retry);
  retry = setTimeout(connect, delay);
  return delay;
}

// The socket is gone (closed by either side, or dropped here when the network went away).
function detach(socket) {
  if (app.socket !== socket) return false;
  app.socket = null;
  board.socket = null;
  app.live = false;
  for (const resolve of waiting.values()) resolve(null);
  waiting.clear();
  return true;
}

async function closed(socket, code, reason) {
  if (!detach(socket)) return;
  app.closes.push({ code, reason });
  if (code === 4401 && !refreshed) {
    refreshed = true; // the access cookie expired: renew it once, then connect again
    if (await refreshSession()) return connect();
  }
  if (code === 4401 || code === 4410) return showSignIn("Your session ended: sign in again.");
  if (code === 4403) return showSignIn("This app is for drivers: sign in with a driver's account.");
  if (FINAL.has(code)) return setStatus("error", reason || `closed ${code}`);
  if (!navigator.onLine) return setStatus("offline", "updates are kept");
  const delay = later();
  setStatus("reconnecting", `in ${Math.round(delay / 1000)} s`);
}

export function goneOffline() {
  // The browser lost its network: stop using this socket (its close may take long to come);
  // everything made from now on waits in the queue.
  const socket = app.socket;
  if (socket && detach(socket)) socket.close(1000, "offline");
  setStatus("offline", "updates are kept");
}

export function backOnline() {
  attempt = 0;
  connect();
}

function send(frame) {
  app.socket.send(JSON.stringify(frame));
}

function live() {
  return app.live && app.socket && app.socket.readyState === WebSocket.OPEN;
}

// ---- frames from the server ------------------------------------------------------------------

function reconcile(jobs) {
  // The server's jobs are the truth; queued changes still show on top of them (shownStatus).
  app.jobs = new Map(jobs.map((job) => [job.booking_id, job]));
  for (const id of app.eta.keys()) if (!app.jobs.has(id)) app.eta.delete(id);
  saveJobs();
}

function receive(frame) {
  switch (frame.type) {
    case "hello":
      attempt = 0;
      refreshed = false;
      app.driverId = frame.driver_id;
      if (frame.ping_interval_s) app.pingIntervalS = frame.ping_interval_s;
      if (frame.ping_max_age_s) app.pingMaxAgeS = frame.ping_max_age_s;
      reconcile(frame.jobs);
      app.live = true;
      setStatus("live");
      render();
      // Where the driver is now goes first (live position), then the backlog in order: its
      // pings are older, so the server puts them on the trail only.
      if (app.onDuty && app.fix) send(pingFrame(Date.now() / 1000));
      pump();
      break;
    case "job.assigned":
    case "job.changed":
      app.jobs.set(frame.job.booking_id, frame.job);
      if (app.finished.includes(frame.job.status)) app.jobs.delete(frame.job.booking_id);
      if (frame.type === "job.assigned") addMessage(`New job: ${frame.job.pickup.address}`);
      saveJobs();
      render();
      break;
    case "job.cancelled":
      app.jobs.delete(frame.job.booking_id);
      addMessage(`Job called off: ${frame.job.pickup.address}`);
      saveJobs();
      render();
      break;
    case "job.eta":
      if (app.jobs.has(frame.booking_id)) {
        app.eta.set(frame.booking_id, { ...frame, at: Date.now() });
        app.etaLog.push(frame);
        if (app.etaLog.length > 50) app.etaLog.shift();
        render();
      }
      break;
    case "message":
      addMessage(frame.text);
      break;
    case "status.ok":
    case "error":
      app.replies.push(frame);
      if (frame.ref && waiting.has(frame.ref)) {
        waiting.get(frame.ref)(frame);
        waiting.delete(frame.ref);
      } else if (frame.type === "error") {
        addMessage(`Server: ${frame.detail}`);
      }
      break;
    default:
      break;
  }
}

// ---- the queue -------------------------------------------------------------------------------

export function pingFrame(ts) {
  const fix = app.fix;
  const number = (value, low, high) =>
    typeof value === "number" && Number.isFinite(value) && value >= low && value <= high
      ? value
      : null;
  return {
    type: "ping",
    lat: fix.lat,
    lon: fix.lon,
    heading: number(fix.heading, 0, 360),
    speed: number(fix.speed, 0, 100),
    accuracy: number(fix.accuracy, 0, 1e7),
    ts,
  };
}

export async function refreshCount() {
  if (app.me) app.queued = await outbox.count(app.me.id);
  renderQueue();
}

// Keeps a frame (in IndexedDB) and sends the queue if the socket is live.
export async function enqueue(frame) {
  await outbox.push(app.me.id, frame);
  await refreshCount();
  pump();
}

function answer(frame) {
  return new Promise((resolve) => {
    waiting.set(frame.ref, resolve);
    setTimeout(() => {
      if (waiting.get(frame.ref) === resolve) {
        waiting.delete(frame.ref);
        resolve(null);
      }
    }, REPLY_TIMEOUT_MS);
  });
}

function settle(frame, reply) {
  app.pending = app.pending.filter((p) => p.ref !== frame.ref);
  const job = app.jobs.get(frame.booking_id);
  if (reply.type === "status.ok") {
    if (job) job.status = reply.status;
    if (job && app.finished.includes(reply.status)) app.jobs.delete(frame.booking_id);
    showResult(`${reply.status.replace("_", " ")}: saved`, true);
  } else if (reply.code === "conflict" && job && job.status === frame.status) {
    showResult(`${frame.status.replace("_", " ")}: saved`, true); // a repeat of a stored change
  } else {
    showResult(`${frame.status.replace("_", " ")} was not saved: ${reply.detail}`);
  }
  saveJobs();
  render();
}

const pause = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

// Sends the queue in order while the socket is live; stops (keeping the rest) when it is not.
export async function pump() {
  if (pumping || !app.me) return;
  pumping = true;
  let sent = 0;
  try {
    for (;;) {
      if (!live()) return;
      const items = await outbox.pending(app.me.id);
      if (items.length === 0) return;
      for (const item of items) {
        if (!live()) return;
        if (sent > 0 && sent % SEND_PER_S === 0) await pause(1000);
        sent += 1;
        // The server refuses a ts older than its age limit (and too many refusals close the
        // socket for good): older pings are dropped here, older changes go without their ts.
        const oldest = Date.now() / 1000 - app.pingMaxAgeS + AGE_MARGIN_S;
        if (item.frame.type !== "status" && item.frame.ts < oldest) {
          app.sent.expired += 1;
          await outbox.remove(item.seq);
          continue;
        }
        if (item.frame.type !== "status") {
          send(item.frame);
          app.sent.pings += 1;
          await outbox.remove(item.seq);
          await refreshCount();
          continue;
        }
        const reply = answer(item.frame);
        send(item.frame.ts < oldest ? { ...item.frame, ts: undefined } : item.frame);
        app.sent.statuses += 1;
        const got = await reply;
        if (got === null) return; // no answer: the socket went; sent again after reconnecting
        if (got.type === "error" && got.code === "unavailable") {
          setTimeout(pump, 5000); // the server's database is away: try again later
          return;
        }
        await outbox.remove(item.seq);
        await refreshCount();
        settle(item.frame, got);
      }
    }
  } finally {
    pumping = false;
  }
}

export function startHeartbeat() {
  setInterval(() => {
    if (live()) send({ type: "heartbeat" });
  }, HEARTBEAT_MS);
}
