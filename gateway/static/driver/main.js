// The driver app: signs in (the board's one-time-code form; cookie session or a demo ?token=),
// follows /ws/driver (hello, job pushes, ETA), shows today's jobs and the current one on the
// board's projected map, moves it on with one button per allowed status, and sends the
// position while on duty. Everything made without a connection waits in IndexedDB and is
// sent in order on reconnect (outbox.js, link.js). sw.js keeps the app shell for offline use.
//
// Modules: state (window.__driver), outbox (IndexedDB), link (socket + queue), geo (location),
// view (drawing); from the board: state, api, signin, lifecycle, map.

import { tokenFromUrl, whoAmI } from "/board/api.js";
import { derive } from "/board/lifecycle.js";
import { showSignIn, wireSignIn } from "/board/signin.js";
import { board, setStatus } from "/board/state.js";
import { followRate, startDuty, stopDuty } from "./geo.js";
import {
  backOnline,
  connect,
  enqueue,
  goneOffline,
  pump,
  refreshCount,
  startHeartbeat,
} from "./link.js";
import * as outbox from "./outbox.js";
import { $, app, loadJobs, remember, remembered, shownStatus } from "./state.js";
import { onMove, render, showResult } from "./view.js";

const LIFECYCLE_KEY = "movehub.driver.lifecycle";

async function loadLifecycle() {
  // The service worker keeps the last answer, and so does localStorage (a first offline open).
  let vocabulary = null;
  try {
    const response = await fetch("/api/v1/lifecycle", { headers: { Accept: "application/json" } });
    if (response.ok) vocabulary = await response.json();
  } catch {
    vocabulary = null;
  }
  if (vocabulary) localStorage.setItem(LIFECYCLE_KEY, JSON.stringify(vocabulary));
  else vocabulary = JSON.parse(localStorage.getItem(LIFECYCLE_KEY) || "null");
  if (!vocabulary) throw new Error("booking lifecycle unavailable");
  derive(vocabulary);
  app.moves = vocabulary.moves;
  app.driverStatuses = vocabulary.groups.driver_job;
  app.inProgress = vocabulary.groups.in_progress;
  app.finished = vocabulary.groups.finished;
}

function uuid() {
  return crypto.randomUUID
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

async function move(job, to) {
  // Optimistic: shown at once, kept in the queue until the server answers.
  const frame = {
    type: "status",
    booking_id: job.booking_id,
    status: to,
    ref: uuid(),
    ts: Date.now() / 1000,
  };
  app.pending.push(frame);
  showResult(
    app.live
      ? `${to.replace("_", " ")}: sending…`
      : `${to.replace("_", " ")}: ` + "kept, sent when back online",
    true,
  );
  render();
  await enqueue(frame);
}

async function restorePending() {
  // Status changes still queued from before a reload show on top of the server's view.
  const items = await outbox.pending(app.me.id);
  app.pending = items.filter((item) => item.frame.type === "status").map((item) => item.frame);
}

async function start() {
  board.token = tokenFromUrl();
  let me;
  try {
    me = await whoAmI();
  } catch (error) {
    // No network (or the server is away): carry on as the last driver signed in here.
    me = remembered();
    if (!me) return setStatus("error", error.message);
  }
  if (!me) return showSignIn();
  if (me.role !== "driver") {
    return showSignIn(`Signed in as ${me.full_name} (${me.role}): the driver app is for drivers.`);
  }
  remember(me);
  $("sign-out").hidden = false;
  loadJobs();
  await restorePending();
  await refreshCount();
  render();
  if (app.onDuty) startDuty();
  connect();
}

function wire() {
  wireSignIn(start);
  onMove(move);
  $("duty").addEventListener("click", () => (app.onDuty ? stopDuty() : startDuty()));
  window.addEventListener("offline", goneOffline);
  window.addEventListener("online", backOnline);
  startHeartbeat();
  // hello can change the ping rate; the queue is sent whenever the socket is live.
  let rate = app.pingIntervalS;
  setInterval(() => {
    if (app.pingIntervalS !== rate) {
      rate = app.pingIntervalS;
      followRate();
    }
    if (app.live) pump();
  }, 5000);
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    app.worker = await navigator.serviceWorker.register("/driver/sw.js", { scope: "/driver/" });
  } catch (error) {
    app.workerError = String(error);
  }
}

async function boot() {
  app.shown = shownStatus; // tests and the console
  wire();
  registerWorker();
  try {
    await loadLifecycle();
  } catch (error) {
    setStatus("error", error.message);
    return;
  }
  await start();
}

boot();
