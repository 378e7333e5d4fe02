// The board's state: everything the page knows, shared by its modules (tests and the console
// read it as window.__board), plus the page-wide constants and lookups by id.

export const API = "/api/v1";
export const VIEW_W = 1000;
export const VIEW_H = 700;

export const $ = (id) => document.getElementById(id);
// Typed lookups by id for the type checker (JSDoc casts of $, no runtime difference): a form
// control (.value, .disabled) and a table (.tHead, .tBodies).
/** @typedef {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | HTMLButtonElement} Control */
/** @param {string} id */
export const control = (id) => /** @type {Control} */ ($(id));
/** @param {string} id */
export const table = (id) => /** @type {HTMLTableElement} */ ($(id));
export const params = new URLSearchParams(location.search);

export const board = {
  status: "starting",
  me: null,
  token: null,
  orgParam: params.get("org_id"),
  config: { tile_url: "", board_socket: "/ws/board" },
  org: null,
  seq: null,
  epoch: null, // the event stream's epoch: a resume names it with the seq
  serverSeq: null,
  drivers: new Map(),
  trucks: new Map(),
  bookings: new Map(),
  names: { drivers: new Map(), trucks: new Map() },
  homes: new Map(), // truck id -> {lat, lon} from the REST yard
  etas: new Map(), // booking id -> the newest job.eta data {eta_s, distance_m, stop, driver_id}
  events: [],
  frames: { snapshot: 0, events: 0, tick: 0, error: 0 },
  closes: [],
  projection: null,
  selected: null,
  socket: null,
  driver(id) {
    // a plain copy, for tests and the console
    const d = this.drivers.get(id);
    if (!d) return null;
    const p = this.projection && d.lat != null ? this.projection.project(d.lon, d.lat) : null;
    return { ...d, x: p ? p.x : null, y: p ? p.y : null };
  },
  project(lon, lat) {
    return this.projection ? this.projection.project(lon, lat) : null;
  },
  receive() {}, // feeds one server frame (tests, offline demos); main.js wires it to the socket
};
/** @type {any} */ (window).__board = board;

export function driverName(id) {
  if (!id) return "";
  const driver = board.drivers.get(id);
  return board.names.drivers.get(id) || (driver && driver.name) || id.slice(0, 8);
}

export function truckName(id) {
  return id ? board.names.trucks.get(id) || id.slice(0, 8) : "";
}

// "ETA 7 min to pickup" for an active job the fleet has estimated (job.eta events), else "".
export function etaText(bookingId) {
  const eta = board.etas.get(bookingId);
  if (!eta) return "";
  const minutes = Math.max(1, Math.ceil(eta.eta_s / 60));
  return `ETA ${minutes} min to ${eta.stop === "dropoff" ? "drop-off" : "pickup"}`;
}

export function sortedBookings() {
  return [...board.bookings.values()].sort((a, b) =>
    String(a.window_start).localeCompare(String(b.window_start)),
  );
}

export function setStatus(status, detail) {
  board.status = status;
  const pill = $("conn");
  pill.dataset.state = status;
  pill.textContent = status + (detail ? `: ${detail}` : "");
}
