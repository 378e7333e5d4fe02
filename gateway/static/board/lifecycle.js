// The booking status vocabulary, loaded once from GET /api/v1/lifecycle (the server's own
// statuses, groups and moves) before the first snapshot is drawn: the page keeps no copy of
// it, only what each status looks like. The sets below are derived from the groups and moves.

import { API } from "./state.js";

// Marker and badge colours: presentation only, looked up by the statuses the API returns
// (idle and offline are the page's own words for a driver without a job or a signal).
const COLORS = {
  offline: "#9ca3af",
  idle: "#16a34a",
  assigned: "#2563eb",
  en_route: "#f59e0b",
  arrived: "#db2777",
  loading: "#9333ea",
  in_transit: "#ea580c",
  unloading: "#0891b2",
  completed: "#4b5563",
  pending: "#a3a3a3",
  confirmed: "#64748b",
  cancelled: "#991b1b",
  no_show: "#7f1d1d",
  disputed: "#b91c1c",
};
// A status the server knows and this page has no colour for yet.
const UNKNOWN_COLOR = "#6b7280";
export const IDLE = "idle";
export const OFFLINE = "offline";

export const lifecycle = {
  statuses: [],
  done: new Set(), // nothing more happens to the job on the road
  assignable: new Set(), // booked, no crew held yet: an assignment may take it
  released: new Set(), // moving a booking here frees its driver and truck
  assigned: null, // the status an assignment gives a booking
  unassigned: null, // the status a booking returns to when its assignment is removed
  legend: [], // what a driver's marker can show, in order
};

export function colour(status) {
  return COLORS[status] || UNKNOWN_COLOR;
}

export function label(status) {
  return (status || "?").replace("_", " ");
}

// A status the page can show for a driver: one of the server's, or idle/offline.
export function isKnown(status) {
  return status === IDLE || status === OFFLINE || lifecycle.statuses.includes(status);
}

export function derive(vocabulary) {
  const { statuses, groups, moves } = vocabulary;
  const active = new Set(groups.active);
  const inProgress = new Set(groups.in_progress);
  const completion = groups.driver_job[groups.driver_job.length - 1];
  lifecycle.statuses = [...statuses];
  lifecycle.done = new Set(groups.finished);
  lifecycle.assignable = new Set(groups.open.filter((s) => !active.has(s)));
  lifecycle.assigned = groups.active.find((s) => !inProgress.has(s)) || null;
  // Every way out of an active job frees the crew, except finishing it (who did it stays).
  lifecycle.released = new Set();
  for (const from of active) {
    for (const to of Object.keys(moves[from] || {})) {
      if (!active.has(to) && to !== completion) lifecycle.released.add(to);
    }
  }
  lifecycle.unassigned =
    Object.keys(moves[lifecycle.assigned] || {}).find((to) => lifecycle.assignable.has(to)) || null;
  lifecycle.legend = [IDLE, ...groups.active, OFFLINE];
  return lifecycle;
}

export async function loadLifecycle() {
  const response = await fetch(API + "/lifecycle", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`booking lifecycle unavailable (HTTP ${response.status})`);
  return derive(await response.json());
}
