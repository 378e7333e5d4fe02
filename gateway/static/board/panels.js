// The side panels and header: the job list, the assignment form, the event feed, the header
// counts and the legend; renderAll redraws the map and the panels together.

import { api } from "./api.js";
import { colour, label, lifecycle } from "./lifecycle.js";
import {
  clear,
  drawArea,
  drawBookings,
  drawDriver,
  drawGrid,
  drawTiles,
  drawTrucks,
  driverStatus,
  setDriverJob,
} from "./map.js";
import {
  $,
  board,
  control,
  driverName,
  etaText,
  sortedBookings,
  table,
  truckName,
} from "./state.js";

const FEED_MAX = 200;

export function renderAll(fresh = false) {
  if (fresh) {
    drawTiles();
    drawGrid();
    drawArea();
    clear("layer-drivers");
  }
  for (const driver of board.drivers.values()) drawDriver(driver);
  for (const marker of /** @type {NodeListOf<SVGElement>} */ (
    $("layer-drivers").querySelectorAll(".driver")
  )) {
    if (!board.drivers.has(marker.dataset.driverId)) marker.remove();
  }
  renderBookings();
  renderStats();
}

export function renderBookings() {
  drawBookings();
  drawTrucks();
  renderJobs();
  renderAssignForm();
}

// ---- the job list --------------------------------------------------------------------------

function when(value) {
  if (value == null) return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

function clock(value) {
  const date =
    value == null
      ? new Date()
      : typeof value === "number"
        ? new Date(value * 1000)
        : new Date(value);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function short(address) {
  return (address || "?").split(",")[0];
}

function badge(status) {
  const span = document.createElement("span");
  span.className = "badge";
  span.style.background = colour(status);
  span.textContent = label(status);
  return span;
}

function renderJobs() {
  const body = table("jobs").tBodies[0];
  body.replaceChildren();
  let active = 0;
  for (const booking of sortedBookings()) {
    if (!lifecycle.done.has(booking.status)) active += 1;
    const row = body.insertRow();
    row.dataset.bookingId = booking.id;
    row.dataset.status = booking.status;
    if (board.selected === booking.id) row.classList.add("selected");
    if (booking.late) row.classList.add("late");
    row.insertCell().textContent = when(booking.window_start);
    row.insertCell().appendChild(badge(booking.status));
    const route = row.insertCell();
    route.className = "route";
    route.textContent =
      `${short(booking.pickup && booking.pickup.address)} → ` +
      short(booking.dropoff && booking.dropoff.address);
    const crew = row.insertCell();
    crew.textContent = booking.driver_id
      ? `${driverName(booking.driver_id)} · ${truckName(booking.truck_id)}`
      : "unassigned";
    if (booking.driver_id && !lifecycle.done.has(booking.status)) showEta(crew, booking.id);
    row.addEventListener("click", () => select(booking.id));
  }
  $("jobs-count").textContent = `${active} open of ${board.bookings.size}`;
}

// The ETA beside an active job (the fleet's job.eta events; updated in place, no re-render).
function showEta(cell, bookingId) {
  const text = etaText(bookingId);
  let span = cell.querySelector(".eta");
  if (!text) {
    if (span) span.remove();
    return;
  }
  if (!span) {
    span = document.createElement("span");
    span.className = "eta";
    cell.append(" · ", span);
  }
  span.textContent = text;
  span.dataset.etaS = String(board.etas.get(bookingId).eta_s);
}

function noteEta(data) {
  if (!data.booking_id) return;
  board.etas.set(data.booking_id, data);
  const row = /** @type {HTMLTableRowElement | null} */ (
    $("jobs").querySelector(`tr[data-booking-id="${CSS.escape(data.booking_id)}"]`)
  );
  if (row && row.cells[3]) showEta(row.cells[3], data.booking_id);
}

// ---- the assignment form -------------------------------------------------------------------

/**
 * @param {import("./state.js").Control} list
 * @param {string[][]} entries [value, text] pairs
 */
function fillSelect(list, entries) {
  const keep = list.value;
  list.replaceChildren();
  for (const [value, text] of entries) {
    const node = document.createElement("option");
    node.value = value;
    node.textContent = text;
    list.appendChild(node);
  }
  if (entries.some(([value]) => value === keep)) list.value = keep;
}

function renderAssignForm() {
  const open = sortedBookings().filter((b) => !lifecycle.done.has(b.status));
  fillSelect(
    control("assign-booking"),
    open.map((b) => [
      b.id,
      `${when(b.window_start)} · ${short(b.pickup && b.pickup.address)} · ${b.status}` +
        (b.driver_id ? ` (${driverName(b.driver_id)})` : ""),
    ]),
  );
  if (board.selected && open.some((b) => b.id === board.selected)) {
    control("assign-booking").value = board.selected;
  } else if (!board.selected) {
    const firstFree = open.find((b) => lifecycle.assignable.has(b.status) && !b.driver_id);
    if (firstFree && !$("assign-booking").dataset.touched)
      control("assign-booking").value = firstFree.id;
  }
  const drivers = [...board.drivers.values()].sort((a, b) =>
    driverName(a.id).localeCompare(driverName(b.id)),
  );
  fillSelect(
    control("assign-driver"),
    drivers.map((d) => [d.id, `${driverName(d.id)} · ${label(driverStatus(d))}`]),
  );
  const trucks = [...board.trucks.values()].sort((a, b) =>
    truckName(a.id).localeCompare(truckName(b.id)),
  );
  fillSelect(
    control("assign-truck"),
    trucks.map((t) => [t.id, `${truckName(t.id)}${t.capacity_m3 ? ` · ${t.capacity_m3} m³` : ""}`]),
  );
}

export function select(bookingId) {
  board.selected = bookingId;
  control("assign-booking").value = bookingId;
  drawBookings();
  renderJobs();
}

function result(text, ok) {
  const node = $("assign-result");
  node.textContent = text;
  node.className = `result ${ok ? "ok" : "error"}`;
}

// An assignment made (this page's answer, or the server's assignment.created event).
export function assigned(assignment) {
  const booking = board.bookings.get(assignment.booking_id);
  if (booking) {
    booking.driver_id = assignment.driver_id ?? booking.driver_id;
    booking.truck_id = assignment.truck_id ?? booking.truck_id;
    if (lifecycle.assignable.has(booking.status)) booking.status = lifecycle.assigned;
  }
  setDriverJob(assignment.driver_id, assignment.booking_id, lifecycle.assigned);
}

export function wireAssign() {
  $("assign-booking").addEventListener("change", (event) => {
    const list = /** @type {HTMLSelectElement} */ (event.target);
    list.dataset.touched = "1";
    select(list.value);
  });
  const assign = async (auto) => {
    const bookingId = control("assign-booking").value;
    if (!bookingId) return result("choose a booking first", false);
    const buttons = [control("assign-manual"), control("assign-auto")];
    buttons.forEach((b) => {
      b.disabled = true;
    });
    try {
      const path = `/bookings/${bookingId}/assign${auto ? "/auto" : ""}`;
      const body = auto
        ? undefined
        : { driver_id: control("assign-driver").value, truck_id: control("assign-truck").value };
      const out = await api("POST", path, body);
      assigned(out);
      const why =
        out.score && out.score.deadhead_km != null
          ? ` (deadhead ${out.score.deadhead_km.toFixed(1)} km)`
          : "";
      result(
        `${out.method}: ${driverName(out.driver_id)} with ${truckName(out.truck_id)}${why}`,
        true,
      );
      feed({ kind: "page.assigned", data: out });
      renderBookings();
      renderStats();
    } catch (error) {
      result(`${error.status || ""} ${error.message}`.trim(), false);
    } finally {
      buttons.forEach((b) => {
        b.disabled = false;
      });
    }
  };
  $("assign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    assign(false);
  });
  $("assign-auto").addEventListener("click", () => assign(true));
}

// ---- the event feed, the header, the legend ------------------------------------------------

function describe(event) {
  const data = event.data || {};
  const who = data.driver_id ? driverName(data.driver_id) : "";
  const booking = data.booking_id ? board.bookings.get(data.booking_id) : null;
  const where = booking ? short(booking.pickup && booking.pickup.address) : "";
  switch (event.kind) {
    case "booking.status":
      return `booking ${where} → ${label(String(data.to || data.status))}`;
    case "assignment.created":
      return (
        `assigned ${where || "booking"} to ${who} (${truckName(data.truck_id)})` +
        (data.method ? ` · ${data.method}` : "")
      );
    case "page.assigned": // this page's own request; the server's event follows
      return `you assigned ${where || "booking"} to ${who} (${truckName(data.truck_id)})`;
    case "assignment.removed":
      return `unassigned ${where || "booking"}`;
    case "driver.arrived":
      return `${who} arrived at ${data.stop || "stop"} · ${where}`;
    case "alert.offline":
      return `${who} went offline`;
    case "alert.late":
      return `${where || "a job"} is running late${who ? ` (${who})` : ""}`;
    case "error":
      return `server: ${data.detail || data.code || "error"}`;
    case "snapshot":
      return `snapshot: ${data.drivers} drivers, ${data.bookings} bookings (seq ${board.seq})`;
    default:
      return `${event.kind}${who ? " · " + who : ""}${where ? " · " + where : ""}`;
  }
}

export function feed(event) {
  if (event.kind === "job.eta") {
    // once a minute per job: beside the job, not in the feed
    noteEta(event.data || {});
    return;
  }
  board.events.push(event);
  if (board.events.length > FEED_MAX) board.events.shift();
  const item = document.createElement("li");
  item.dataset.kind = event.kind;
  if (event.seq != null) item.dataset.seq = event.seq;
  if (/^alert\.|error/.test(event.kind)) item.classList.add("alert");
  if (/assign/.test(event.kind)) item.classList.add("assign");
  const time = document.createElement("time");
  time.textContent = clock(event.ts);
  item.append(time, describe(event));
  const list = $("feed");
  list.prepend(item);
  while (list.children.length > FEED_MAX) list.lastChild.remove();
}

export function renderStats() {
  let online = 0;
  for (const driver of board.drivers.values()) if (driver.online !== false) online += 1;
  let active = 0;
  for (const booking of board.bookings.values()) {
    if (!lifecycle.done.has(booking.status) && booking.driver_id) active += 1;
  }
  $("stat-online").textContent = String(online);
  $("stat-drivers").textContent = String(board.drivers.size);
  $("stat-jobs").textContent = String(active);
  $("stat-seq").textContent = board.seq === null ? "–" : String(board.seq);
}

export function renderLegend() {
  const legend = $("legend");
  legend.replaceChildren();
  for (const status of lifecycle.legend) {
    const item = document.createElement("li");
    item.style.setProperty("--swatch", colour(status));
    item.textContent = label(status);
    legend.appendChild(item);
  }
}
