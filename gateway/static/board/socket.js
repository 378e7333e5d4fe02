// The board socket (/ws/board, docs/realtime-protocol.md): a snapshot, then sequenced events
// resumed with ?since=&epoch= after a reconnect, coalesced position ticks, heartbeats.

import { forgetToken, refreshSession } from "./api.js";
import { lifecycle } from "./lifecycle.js";
import { drawDriver, driverMarker, fitProjection, setDriverJob } from "./map.js";
import { assigned, feed, renderAll, renderBookings, renderStats } from "./panels.js";
import { showSignIn } from "./signin.js";
import { $, board, setStatus } from "./state.js";

const HEARTBEAT_MS = 15000;
// Outbox topics that are deliveries, not fleet news: applied, kept out of the feed.
const QUIET = /^notify\./;

let backoffMs = 500;
let heartbeat = null;

function socketUrl() {
  const query = new URLSearchParams();
  if (board.token) query.set("token", board.token);
  if (board.seq !== null) query.set("since", String(board.seq));
  if (board.seq !== null && board.epoch) query.set("epoch", board.epoch);
  if (board.orgParam) query.set("org_id", board.orgParam);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = board.config.board_socket || "/ws/board";
  const rest = query.toString();
  return `${scheme}//${location.host}${path}${rest ? "?" + rest : ""}`;
}

export function connect() {
  setStatus(board.seq === null ? "connecting" : "reconnecting");
  const socket = new WebSocket(socketUrl());
  board.socket = socket;
  socket.onopen = () => {
    heartbeat = setInterval(() => send({ type: "heartbeat" }), HEARTBEAT_MS);
  };
  socket.onmessage = (message) => {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    if (frame && typeof frame === "object") receive(frame);
  };
  socket.onclose = (close) => {
    clearInterval(heartbeat);
    if (board.socket !== socket) return;
    board.socket = null;
    board.closes.push({ code: close.code, reason: close.reason, at: Date.now() });
    onClosed(close.code, close.reason);
  };
}

async function onClosed(code, reason) {
  if (code === 4401) {
    // The session ran out: renew the cookie, or ask to sign in again.
    if (!board.token && (await refreshSession())) return reconnectSoon();
    forgetToken();
    return showSignIn("Your session ended: " + (reason || "sign in again"));
  }
  if (code === 4403) {
    setStatus("error", reason || "this account may not watch this board");
    return;
  }
  setStatus("reconnecting", reason);
  reconnectSoon();
}

function reconnectSoon() {
  const wait = backoffMs;
  backoffMs = Math.min(backoffMs * 2, 10000);
  setTimeout(connect, wait);
}

function send(frame) {
  if (board.socket && board.socket.readyState === WebSocket.OPEN) {
    board.socket.send(JSON.stringify(frame));
  }
}

export function receive(frame) {
  board.frames[frame.type] = (board.frames[frame.type] || 0) + 1;
  if (frame.type === "snapshot") onSnapshot(frame);
  else if (frame.type === "events") onEvents(frame.events || [], frame.epoch);
  else if (frame.type === "tick") onTick(frame);
  else if (frame.type === "error") feed({ kind: "error", data: frame });
  if (frame.type === "snapshot" || frame.type === "tick" || frame.type === "events") {
    backoffMs = 500;
    if (board.status !== "live") setStatus("live");
  }
}

function onSnapshot(snapshot) {
  board.seq = snapshot.seq ?? board.seq;
  board.epoch = snapshot.epoch ?? board.epoch;
  board.org = snapshot.org || board.org;
  board.drivers = new Map((snapshot.drivers || []).map((d) => [d.id, { ...d }]));
  const trucks = new Map((snapshot.trucks || []).map((t) => [t.id, { ...t }]));
  for (const [id, truck] of board.trucks) if (!trucks.has(id)) trucks.set(id, truck);
  board.trucks = trucks;
  board.bookings = new Map((snapshot.bookings || []).map((b) => [b.id, { ...b }]));
  for (const driver of board.drivers.values()) {
    if (driver.name) board.names.drivers.set(driver.id, driver.name);
  }
  for (const truck of board.trucks.values()) {
    if (truck.plate) board.names.trucks.set(truck.id, truck.plate);
  }
  board.projection = fitProjection();
  $("org-name").textContent = (board.org && board.org.name) || "";
  renderAll(true);
  feed({ kind: "snapshot", data: { drivers: board.drivers.size, bookings: board.bookings.size } });
}

function onTick(tick) {
  board.serverSeq = tick.seq ?? board.serverSeq;
  for (const change of tick.drivers || []) {
    const driver = board.drivers.get(change.id) || { id: change.id };
    Object.assign(driver, change);
    board.drivers.set(change.id, driver);
    drawDriver(driver);
  }
  renderStats();
}

function onEvents(events, epoch) {
  // Another epoch's seqs say nothing about ours (the server sends a snapshot first).
  if (epoch && board.epoch && epoch !== board.epoch) return;
  let bookingsChanged = false;
  for (const event of events) {
    if (typeof event.seq === "number") {
      if (board.seq !== null && event.seq <= board.seq) continue; // already applied
      board.seq = event.seq;
    }
    bookingsChanged = applyEvent(event) || bookingsChanged;
    if (!QUIET.test(event.kind || "")) feed(event);
  }
  if (bookingsChanged) renderBookings();
  renderStats();
}

// Applies one sequenced event to the page's state; true when bookings changed.
function applyEvent(event) {
  const data = event.data || {};
  const booking = data.booking_id ? board.bookings.get(data.booking_id) : null;
  if (data.booking && data.booking.id) {
    board.bookings.set(data.booking.id, {
      ...board.bookings.get(data.booking.id),
      ...data.booking,
    });
  }
  if (data.driver && data.driver.id) {
    const driver = { ...board.drivers.get(data.driver.id), ...data.driver };
    board.drivers.set(driver.id, driver);
    drawDriver(driver);
  }
  switch (event.kind) {
    case "booking.status": {
      const status = data.to || data.status;
      const driverId = data.driver_id || (booking && booking.driver_id);
      setDriverJob(driverId, data.booking_id, status);
      if (booking && status) {
        booking.status = status;
        if (lifecycle.released.has(status)) {
          booking.driver_id = null;
          booking.truck_id = null;
        }
      }
      return true;
    }
    case "assignment.created":
      assigned(data);
      return true;
    case "assignment.removed":
      if (booking) {
        setDriverJob(booking.driver_id, null, null);
        booking.driver_id = null;
        booking.truck_id = null;
        if (booking.status === lifecycle.assigned) booking.status = lifecycle.unassigned;
      }
      return true;
    case "alert.offline": {
      const driver = board.drivers.get(data.driver_id);
      if (driver) {
        driver.online = false;
        drawDriver(driver);
      }
      return false;
    }
    case "alert.late":
      if (booking) booking.late = true;
      return true;
    case "driver.arrived": {
      const marker = driverMarker(data.driver_id);
      if (marker) {
        marker.classList.add("at-stop"); // a flash of the ring: it reached a stop
        setTimeout(() => marker.classList.remove("at-stop"), 4000);
      }
      return false;
    }
    default:
      return Boolean(data.booking);
  }
}
