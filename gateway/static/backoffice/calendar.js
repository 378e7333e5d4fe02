// The fleet calendar: drivers by day over a week, with their jobs (GET /calendar), their free
// gaps and overlapping jobs flagged as conflicts. Moving a job to another driver is a manual assignment
// (POST /bookings/{id}/assign, or /reassign for an assigned job, atomically); when the server
// refuses, its reason is shown as it gave it.

import { loadList } from "/board/api.js";
import { colour, label, lifecycle, loadLifecycle } from "/board/lifecycle.js";
import {
  $,
  addDays,
  api,
  bootPage,
  clock,
  control,
  el,
  isoDay,
  localMidnight,
  office,
  shortId,
  showResult,
  table,
} from "./common.js";

const DAYS = 7;
const WORK_START = 7; // the working day the free gaps are shown in (local hours)
const WORK_END = 20;

const cal = {
  start: null,
  end: null,
  entries: [],
  unassigned: 0,
  drivers: new Map(),
  trucks: new Map(),
  free: new Map(), // driver id -> [{start, end}] (Date)
  conflicts: new Set(), // booking ids overlapping another job of the same driver
  selected: null,
  moves: [], // every move tried: {booking_id, driver_id, ok, message}
};
office.calendar = cal;

const driverName = (id) => (cal.drivers.get(id) || {}).full_name || shortId(id);
const truckName = (id) => (cal.trucks.get(id) || {}).plate || shortId(id);

// A job may move while it is assigned (its crew changes) or confirmed without a crew yet.
function movable(entry) {
  return entry.status === lifecycle.assigned || entry.status === lifecycle.unassigned;
}

function findConflicts(entries) {
  const found = new Set();
  const byDriver = new Map();
  for (const entry of entries) {
    if (!entry.driver_id) continue;
    if (!byDriver.has(entry.driver_id)) byDriver.set(entry.driver_id, []);
    byDriver.get(entry.driver_id).push(entry);
  }
  for (const jobs of byDriver.values()) {
    jobs.sort((a, b) => a.startAt - b.startAt);
    let latest = null;
    for (const job of jobs) {
      if (latest && job.startAt < latest.endAt) {
        found.add(job.booking_id);
        found.add(latest.booking_id);
      }
      if (!latest || job.endAt > latest.endAt) latest = job;
    }
  }
  return found;
}

// A driver's free time in the range: what the fleet calendar's jobs leave (the same rule as
// GET /calendar/drivers/{id}, without one request per driver: a fleet of fifty would meet
// the read rate limit).
function freeGaps(driverId) {
  const busy = cal.entries
    .filter((e) => e.driver_id === driverId)
    .map((e) => [e.startAt.getTime(), e.endAt.getTime()])
    .sort((a, b) => a[0] - b[0]);
  const gaps = [];
  let cursor = cal.start.getTime();
  for (const [start, end] of busy) {
    if (start > cursor) gaps.push({ start: new Date(cursor), end: new Date(start) });
    cursor = Math.max(cursor, end);
  }
  if (cursor < cal.end.getTime()) gaps.push({ start: new Date(cursor), end: cal.end });
  return gaps;
}

async function load() {
  const range =
    `start=${encodeURIComponent(cal.start.toISOString())}` +
    `&end=${encodeURIComponent(cal.end.toISOString())}`;
  const drivers = new Map();
  const trucks = new Map();
  const [calendar] = await Promise.all([
    api("GET", `/calendar?${range}`),
    loadList("/drivers", (d) => drivers.set(d.id, d)),
    loadList("/trucks", (t) => trucks.set(t.id, t)),
  ]);
  cal.drivers = drivers;
  cal.trucks = trucks;
  cal.entries = calendar.entries.map((e) => ({
    ...e,
    startAt: new Date(e.start),
    endAt: new Date(e.end),
  }));
  cal.unassigned = calendar.unassigned;
  cal.conflicts = findConflicts(cal.entries);
  cal.free = new Map([...drivers.keys()].map((id) => [id, freeGaps(id)]));
  if (cal.selected) {
    cal.selected = cal.entries.find((e) => e.booking_id === cal.selected.booking_id) || null;
  }
  office.loads += 1;
  render();
}

function clip(start, end, from, to) {
  const s = Math.max(start, from);
  const e = Math.min(end, to);
  return e > s ? [s, e] : null;
}

function hhmm(ms) {
  return clock(new Date(ms));
}

function timeline(dayStart, jobs, free) {
  const from = dayStart.getTime() + WORK_START * 3600e3;
  const to = dayStart.getTime() + WORK_END * 3600e3;
  const bar = el("div", { class: "timeline", "aria-hidden": "true" });
  for (const job of jobs) {
    const part = clip(job.startAt.getTime(), job.endAt.getTime(), from, to);
    if (!part) continue;
    const span = el("span", { class: cal.conflicts.has(job.booking_id) ? "conflict" : "" });
    span.style.left = `${((part[0] - from) / (to - from)) * 100}%`;
    span.style.width = `${((part[1] - part[0]) / (to - from)) * 100}%`;
    bar.append(span);
  }
  const gaps = (free || [])
    .map((g) => clip(g.start.getTime(), g.end.getTime(), from, to))
    .filter(Boolean);
  const text = gaps.length
    ? "free " +
      gaps.map(([s, e]) => `${hhmm(s)}–${e === to ? `${WORK_END}:00` : hhmm(e)}`).join(", ")
    : "no free time";
  return [bar, el("div", { class: "free-text", "data-free": gaps.length, text })];
}

function chip(entry) {
  const conflict = cal.conflicts.has(entry.booking_id);
  const canMove = movable(entry);
  const node = el(
    "div",
    {
      class:
        `job${conflict ? " conflict" : ""}${canMove ? "" : " fixed"}` +
        `${cal.selected && cal.selected.booking_id === entry.booking_id ? " selected" : ""}`,
      "data-booking-id": entry.booking_id,
      "data-status": entry.status,
      "data-driver-id": entry.driver_id || "",
      draggable: canMove ? "true" : "false",
      title:
        `${label(entry.status)} · ${entry.pickup_address} → ${entry.dropoff_address}` +
        (entry.truck_id ? ` · truck ${truckName(entry.truck_id)}` : "") +
        (conflict ? " · overlaps another job of this driver" : ""),
      onclick: () => select(entry),
      ondragstart: (event) => {
        event.dataTransfer.setData("text/plain", entry.booking_id);
        event.dataTransfer.effectAllowed = "move";
      },
    },
    `${clock(entry.startAt)}–${clock(entry.endAt)} ${entry.pickup_address}`,
  );
  node.style.setProperty("--swatch", colour(entry.status));
  return node;
}

function dayCell(driverId, dayStart, index) {
  const dayEnd = addDays(dayStart, 1);
  const jobs = cal.entries.filter(
    (e) => (e.driver_id || null) === driverId && e.startAt < dayEnd && e.endAt > dayStart,
  );
  const today = isoDay(dayStart) === isoDay(new Date());
  const cell = el("td", {
    class: today ? "today" : "",
    "data-day": index,
    "data-driver-id": driverId || "",
  });
  if (driverId) {
    cell.append(...timeline(dayStart, jobs, cal.free.get(driverId)));
    cell.addEventListener("dragover", (event) => {
      event.preventDefault();
      cell.classList.add("drop-target");
    });
    cell.addEventListener("dragleave", () => cell.classList.remove("drop-target"));
    cell.addEventListener("drop", (event) => {
      event.preventDefault();
      cell.classList.remove("drop-target");
      const entry = cal.entries.find(
        (e) => e.booking_id === event.dataTransfer.getData("text/plain"),
      );
      if (entry) {
        const truckId = entry.truck_id || control("move-truck").value; // before the form redraws
        select(entry);
        move(entry, driverId, truckId);
      }
    });
  }
  jobs.forEach((job) => cell.append(chip(job)));
  return cell;
}

function render() {
  const days = [...Array(DAYS).keys()].map((i) => addDays(cal.start, i));
  const head = el(
    "tr",
    {},
    el("th", { text: "Driver" }),
    days.map((d) =>
      el("th", {
        class: isoDay(d) === isoDay(new Date()) ? "today" : "",
        text: d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" }),
      }),
    ),
  );
  table("calendar").tHead.replaceChildren(head);
  const rows = [];
  rows.push(
    el(
      "tr",
      { "data-driver-id": "", class: "unassigned" },
      el(
        "td",
        {},
        el(
          "span",
          { class: "driver-name" },
          "Not assigned",
          el("span", { class: "muted", text: `${cal.unassigned} in range` }),
        ),
      ),
      days.map((d, i) => dayCell(null, d, i)),
    ),
  );
  const drivers = [...cal.drivers.values()].sort((a, b) => a.full_name.localeCompare(b.full_name));
  for (const driver of drivers) {
    rows.push(
      el(
        "tr",
        { "data-driver-id": driver.id },
        el(
          "td",
          {},
          el(
            "span",
            { class: "driver-name" },
            driver.full_name,
            el("span", {
              class: "muted",
              text: `${driver.status}${driver.verified ? " · verified" : ""}`,
            }),
          ),
        ),
        days.map((d, i) => dayCell(driver.id, d, i)),
      ),
    );
  }
  table("calendar").tBodies[0].replaceChildren(...rows);
  const jobs = cal.entries.length;
  $("cal-summary").textContent =
    `${jobs} job${jobs === 1 ? "" : "s"}, ` +
    `${cal.conflicts.size} in conflict, ${drivers.length} drivers`;
  renderMoveForm();
}

function select(entry) {
  cal.selected = entry;
  for (const node of document.querySelectorAll(".job.selected")) node.classList.remove("selected");
  for (const node of document.querySelectorAll(`.job[data-booking-id="${entry.booking_id}"]`)) {
    node.classList.add("selected");
  }
  showResult("move-result", "");
  renderMoveForm();
}

function renderMoveForm() {
  const entry = cal.selected;
  const drivers = [...cal.drivers.values()].sort((a, b) => a.full_name.localeCompare(b.full_name));
  if (!entry) {
    control("move-submit").disabled = true;
    return;
  }
  $("move-job").textContent =
    `${entry.startAt.toLocaleString([], {
      dateStyle: "medium",
      timeStyle: "short",
    })}–${clock(entry.endAt)} · ${entry.pickup_address} → ` +
    `${entry.dropoff_address} · ${label(entry.status)}` +
    (entry.driver_id ? ` · now ${driverName(entry.driver_id)}` : " · no driver yet");
  // A redraw of the same job keeps what was chosen in the form.
  const same = $("move-form").dataset.bookingId === entry.booking_id;
  const chosenDriver = same ? control("move-driver").value : null;
  const chosenTruck = same ? control("move-truck").value : entry.truck_id;
  $("move-form").dataset.bookingId = entry.booking_id;
  $("move-driver").replaceChildren(
    ...drivers
      .filter((d) => d.id !== entry.driver_id)
      .map((d) =>
        el("option", { value: d.id, text: d.full_name, selected: d.id === chosenDriver }),
      ),
  );
  $("move-truck").replaceChildren(
    ...[...cal.trucks.values()]
      .sort((a, b) => a.plate.localeCompare(b.plate))
      .map((t) =>
        el("option", {
          value: t.id,
          text: `${t.plate} · ${t.capacity_m3} m³`,
          selected: t.id === chosenTruck,
        }),
      ),
  );
  control("move-submit").disabled = !movable(entry);
  if (!movable(entry)) {
    showResult("move-result", `A ${label(entry.status)} job cannot move.`);
  }
}

function refuse(entry, driverId, message) {
  cal.moves.push({ booking_id: entry.booking_id, driver_id: driverId, ok: false, message });
  showResult("move-result", message, "error");
}

// Assigns the job to `driverId`. An assigned job is moved in one step (POST
// /bookings/{id}/reassign: the old crew released and the new one assigned atomically, or nothing
// changes); the server is asked first whether the driver (and truck) are free for the window.
async function move(entry, driverId, truckId) {
  if (!movable(entry)) return refuse(entry, driverId, `A ${label(entry.status)} job cannot move.`);
  if (driverId === entry.driver_id)
    return refuse(entry, driverId, "The job is already this driver's.");
  if (!truckId) return refuse(entry, driverId, "Choose a truck.");
  control("move-submit").disabled = true;
  showResult("move-result", `Moving to ${driverName(driverId)}…`);
  const choice = { driver_id: driverId, truck_id: truckId };
  try {
    if (entry.driver_id) {
      const query = new URLSearchParams({
        start: entry.start,
        end: entry.end,
        driver_id: driverId,
        truck_id: truckId,
      });
      const answer = await api("GET", `/calendar/availability?${query}`);
      const clashes = answer.conflicting_booking_ids.filter((id) => id !== entry.booking_id);
      if (clashes.length) {
        return refuse(
          entry,
          driverId,
          `Refused: ${driverName(driverId)} or truck ` +
            `${truckName(truckId)} is already booked in this window (booking ` +
            `${clashes.map(shortId).join(", ")}).`,
        );
      }
      await api("POST", `/bookings/${entry.booking_id}/reassign`, choice);
    } else {
      await api("POST", `/bookings/${entry.booking_id}/assign`, choice);
    }
    const message =
      `Moved to ${driverName(driverId)} with ${truckName(truckId)} ` + "(manual assignment).";
    cal.moves.push({ booking_id: entry.booking_id, driver_id: driverId, ok: true, message });
    await load();
    showResult("move-result", message, "ok");
  } catch (error) {
    await load().catch(() => null); // what the server holds now (unchanged)
    refuse(entry, driverId, error.message);
  } finally {
    control("move-submit").disabled = !(cal.selected && movable(cal.selected));
  }
}

function setWeek(start) {
  cal.start = start;
  cal.end = addDays(start, DAYS);
  control("cal-start").value = isoDay(start);
}

function wire() {
  $("move-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (cal.selected) move(cal.selected, control("move-driver").value, control("move-truck").value);
  });
  const shift = (days) => {
    setWeek(addDays(cal.start, days));
    load().catch(report);
  };
  $("cal-prev").addEventListener("click", () => shift(-DAYS));
  $("cal-next").addEventListener("click", () => shift(DAYS));
  $("cal-today").addEventListener("click", () => {
    setWeek(localMidnight(isoDay(new Date())));
    load().catch(report);
  });
  $("cal-start").addEventListener("change", () => {
    if (!control("cal-start").value) return;
    setWeek(localMidnight(control("cal-start").value));
    load().catch(report);
  });
}

function report(error) {
  showResult("move-result", error.message, "error");
}

const params = new URLSearchParams(location.search);
setWeek(localMidnight(params.get("start") || isoDay(new Date())));
wire();
bootPage("calendar", {
  who: "dispatchers and mover admins",
  start: async () => {
    await loadLifecycle();
    await load();
  },
});
