// What the driver app knows, shared by its modules (tests and the console read it as
// window.__driver). The connection status lives in the board's state module (its sign-in
// form and status pill are reused), read here through `status`.

import { board } from "/board/state.js";

const ME_KEY = "movehub.driver.me";
const JOBS_KEY = "movehub.driver.jobs.";
const DUTY_KEY = "movehub.driver.duty";

export const app = {
  me: null, // the signed-in user (GET /auth/me; the last one known when offline)
  driverId: null, // from `hello`
  moves: {}, // from GET /lifecycle: moves[from][to] = actors
  driverStatuses: [], // the statuses a driver may send (groups.driver_job)
  inProgress: [],
  finished: [], // nothing more happens to these on the road
  jobs: new Map(), // booking id -> <job> as the server last told it
  pending: [], // status frames made here and not yet answered, in order
  eta: new Map(), // booking id -> {eta_s, distance_m, stop, at}
  etaLog: [], // the last job.eta frames received (tests, the console)
  fix: null, // the latest position from the geolocation API
  track: [], // the pings made this session: {lat, lon, ts, queued}
  pingIntervalS: 2,
  pingMaxAgeS: 3600, // from hello: older pings are refused, so not sent
  onDuty: localStorage.getItem(DUTY_KEY) === "on",
  live: false, // hello received on the current socket
  socket: null,
  queued: 0, // entries in the offline queue
  sent: { pings: 0, statuses: 0, expired: 0 },
  replies: [], // status.ok / error frames received, newest last
  closes: [],
  messages: [],
  get status() {
    return board.status;
  },
  currentJob() {
    return currentJob();
  },
};
/** @type {any} */ (window).__driver = app;

export const $ = (id) => document.getElementById(id);

export function remember(me) {
  app.me = me;
  localStorage.setItem(ME_KEY, JSON.stringify(me));
}

export function remembered() {
  try {
    return JSON.parse(localStorage.getItem(ME_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveJobs() {
  if (!app.me) return;
  localStorage.setItem(JOBS_KEY + app.me.id, JSON.stringify([...app.jobs.values()]));
}

export function loadJobs() {
  if (!app.me) return;
  try {
    const jobs = JSON.parse(localStorage.getItem(JOBS_KEY + app.me.id) || "[]");
    app.jobs = new Map(jobs.map((job) => [job.booking_id, job]));
  } catch {
    app.jobs = new Map();
  }
}

export function setDuty(on) {
  app.onDuty = on;
  localStorage.setItem(DUTY_KEY, on ? "on" : "off");
}

// The status the driver sees: the server's, moved on by changes still in the queue.
export function shownStatus(job) {
  let status = job.status;
  for (const frame of app.pending) if (frame.booking_id === job.booking_id) status = frame.status;
  return status;
}

export function sortedJobs() {
  return [...app.jobs.values()].sort((a, b) =>
    String(a.window_start).localeCompare(String(b.window_start)),
  );
}

// The job in hand: one in progress, else the next assigned one (as the server picks it).
export function currentJob() {
  const jobs = sortedJobs();
  return jobs.find((job) => app.inProgress.includes(shownStatus(job))) || jobs[0] || null;
}

// The moves a driver may make from the job's (shown) status, in lifecycle order.
export function nextStatuses(job) {
  const moves = app.moves[shownStatus(job)] || {};
  return app.driverStatuses.filter((to) => (moves[to] || []).includes("driver"));
}
