// Drawing the app: the current job (stops, window, crew, truck, one button per allowed move,
// the ETA), today's and later jobs, the queue, and the map, projected exactly as the board's
// (gateway/static/board/map.js: Web Mercator fitted to what is shown, a kilometre grid).

import { colour, label } from "/board/lifecycle.js";
import { drawGrid, drawTiles, fitProjection } from "/board/map.js";
import { board, VIEW_H, VIEW_W } from "/board/state.js";
import { $, app, currentJob, nextStatuses, shownStatus, sortedJobs } from "./state.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const SYMBOL = 2.2; // a phone shows the 1000-unit frame at ~400 px: symbols drawn larger
/** @type {{ move: (job: any, to: string) => unknown }} */
const actions = { move: () => {} };
/** @param {(job: any, to: string) => unknown} move */
export function onMove(move) {
  actions.move = move;
}

function svg(tag, attributes, parent) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  parent.appendChild(node);
  return node;
}

function clear(id) {
  const node = $(id);
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

function time(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function sameDay(iso, day) {
  const when = new Date(iso);
  return (
    when.getFullYear() === day.getFullYear() &&
    when.getMonth() === day.getMonth() &&
    when.getDate() === day.getDate()
  );
}

function badge(node, status) {
  node.textContent = label(status);
  node.dataset.status = status;
  node.style.background = colour(status); // CSSOM, allowed by the CSP (no inline style)
}

export function renderQueue() {
  const note = $("queue");
  note.dataset.waiting = String(app.queued);
  note.textContent =
    app.queued === 0
      ? "nothing waiting to be sent"
      : `${app.queued} update${app.queued === 1 ? "" : "s"} waiting to be sent`;
}

export function renderDuty() {
  const button = $("duty");
  button.setAttribute("aria-pressed", String(app.onDuty));
  button.textContent = app.onDuty ? "On duty · tap to stop" : "Go on duty";
  const gps = $("gps");
  if (!app.onDuty) gps.textContent = "location off";
  else if (!app.fix) gps.textContent = "waiting for a location…";
  else gps.textContent = `±${Math.round(app.fix.accuracy || 0)} m · every ${app.pingIntervalS} s`;
}

export function showResult(text, ok = false) {
  const result = $("job-result");
  result.textContent = text;
  result.className = "result " + (ok ? "ok" : "error");
}

function renderCurrent(job) {
  $("no-job").hidden = Boolean(job);
  $("job").hidden = !job;
  const eta = job && app.eta.get(job.booking_id);
  $("eta").hidden = !eta;
  if (eta) {
    $("eta").textContent = `ETA ${Math.max(0, Math.round(eta.eta_s / 60))} min to ${eta.stop}`;
    $("eta").dataset.etaS = String(eta.eta_s);
  }
  if (!job) return;
  const status = shownStatus(job);
  $("job").dataset.bookingId = job.booking_id;
  badge($("job-status"), status);
  $("job-window").textContent = `${time(job.window_start)}–${time(job.window_end)}`;
  $("job-pickup").textContent = job.pickup.address;
  $("job-dropoff").textContent = job.dropoff.address;
  $("job-crew").textContent = job.crew_size ? `${job.crew_size} movers` : "–";
  $("job-truck").textContent = (job.truck && job.truck.plate) || "–";
  const moves = clear("moves");
  for (const to of nextStatuses(job)) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.status = to;
    button.textContent = label(to);
    button.style.background = colour(to);
    button.style.borderColor = colour(to);
    button.addEventListener("click", () => actions.move(job, to));
    moves.appendChild(button);
  }
}

function renderJobs(current) {
  const today = new Date();
  const jobs = sortedJobs();
  const todays = jobs.filter((job) => sameDay(job.window_start, today));
  const later = jobs.filter((job) => !sameDay(job.window_start, today));
  $("jobs-count").textContent = `(${todays.length})`;
  for (const [id, list] of [
    ["jobs", todays],
    ["later", later],
  ]) {
    const ol = clear(id);
    for (const job of list) {
      const li = document.createElement("li");
      li.dataset.bookingId = job.booking_id;
      if (current && job.booking_id === current.booking_id) li.className = "current";
      const tag = document.createElement("span");
      tag.className = "badge";
      badge(tag, shownStatus(job));
      li.append(tag, `${time(job.window_start)} ${job.pickup.address} → ${job.dropoff.address}`);
      ol.appendChild(li);
    }
  }
  $("later-title").hidden = later.length === 0;
}

// ---- the map -------------------------------------------------------------------------------

let fittedFor = null;

function inFrame(point) {
  return point && point.x >= 0 && point.x <= VIEW_W && point.y >= 0 && point.y <= VIEW_H;
}

function fit(job) {
  // The board's projection is fitted to board.org/drivers/bookings: hand it what we show.
  board.org = null;
  board.bookings = new Map(job ? [[job.booking_id, job]] : []);
  board.drivers = new Map(app.fix ? [["me", { lat: app.fix.lat, lon: app.fix.lon }]] : []);
  app.track.forEach((p, i) => board.drivers.set(`t${i}`, p));
  board.projection = fitProjection();
  fittedFor = job ? job.booking_id : null;
  drawTiles();
  drawGrid();
}

export function renderMap() {
  const job = currentJob();
  const me = app.fix && board.projection && board.projection.project(app.fix.lon, app.fix.lat);
  if (
    !board.projection ||
    fittedFor !== (job ? job.booking_id : null) ||
    (app.fix && !inFrame(me))
  ) {
    fit(job);
  }
  const project = (p) => board.projection.project(p.lon, p.lat);
  const route = clear("layer-route");
  const stops = clear("layer-stops");
  if (job) {
    const a = project(job.pickup);
    const b = project(job.dropoff);
    svg("line", { class: "route-line selected", x1: a.x, y1: a.y, x2: b.x, y2: b.y }, route);
    for (const [stop, p, letter] of [
      ["pickup", a, "P"],
      ["dropoff", b, "D"],
    ]) {
      const pin = svg(
        "g",
        {
          class: `pin ${stop}`,
          "data-stop": stop,
          transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)}) scale(${SYMBOL})`,
        },
        stops,
      );
      svg("path", { d: "M0,0 C-9,-12 -9,-24 0,-24 C9,-24 9,-12 0,0Z" }, pin);
      svg("text", { y: -13 }, pin).textContent = letter;
    }
  }
  const track = clear("layer-track");
  if (app.track.length > 1) {
    const d = app.track
      .map((p, i) => {
        const q = project(p);
        return `${i ? "L" : "M"}${q.x.toFixed(1)},${q.y.toFixed(1)}`;
      })
      .join("");
    svg("path", { class: "track", d }, track);
  }
  for (const p of app.track) {
    const q = project(p);
    svg(
      "circle",
      {
        class: "track-point" + (p.queued ? " queued" : ""),
        cx: q.x.toFixed(1),
        cy: q.y.toFixed(1),
        r: 3 * SYMBOL,
      },
      track,
    );
  }
  const layer = clear("layer-me");
  if (app.fix) {
    const p = project(app.fix);
    const marker = svg(
      "g",
      {
        class: "me",
        "data-me": "",
        "data-lat": app.fix.lat,
        "data-lon": app.fix.lon,
        "data-x": p.x.toFixed(1),
        "data-y": p.y.toFixed(1),
        transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`,
      },
      layer,
    );
    svg("circle", { r: 9 * SYMBOL }, marker);
  }
}

export function render() {
  const job = currentJob();
  renderCurrent(job);
  renderJobs(job);
  renderQueue();
  renderDuty();
  renderMap();
  const who = $("who");
  if (app.me) who.textContent = app.me.full_name;
}

export function addMessage(text) {
  app.messages.push(text);
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("messages").prepend(li);
}
