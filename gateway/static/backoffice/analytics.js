// Analytics: headline figures and charts drawn as SVG by hand (charts.js) from the
// /analytics/* views. The request names its range both ways (start/end instants and from/to
// days), so the page reads the four original views and the nine-view API alike; the views
// the server does not offer (yet) leave their cards hidden.

import { colour, label, loadLifecycle } from "/board/lifecycle.js";
import { barChart, lineChart, PALETTE } from "./charts.js";
import {
  $,
  addDays,
  api,
  board,
  bootPage,
  control,
  el,
  fetchBlob,
  isoDay,
  localMidnight,
  money,
  office,
  showResult,
} from "./common.js";

const stats = {
  range: null,
  org: board.orgParam || "",
  newer: false,
  views: {},
  charts: {},
  downloads: [],
};
office.analytics = stats;

const percent = (value) => (value == null ? "–" : `${(value * 100).toFixed(1)} %`);
const count = (value) => (value == null ? "–" : Number(value).toLocaleString());

// Money is one number (cents) in the original views and one per currency in the newer ones.
function moneyText(value) {
  if (value == null) return "–";
  if (typeof value === "number") return money(value, "EUR");
  const parts = Object.entries(value).map(([currency, cents]) => money(cents, currency));
  return parts.length ? parts.join(" + ") : money(0, "EUR");
}

function query(range, extra = {}) {
  const params = new URLSearchParams({
    start: range.start.toISOString(),
    end: range.end.toISOString(),
    from: isoDay(range.start),
    to: isoDay(addDays(range.end, -1)),
    ...extra,
  });
  if (stats.org) params.set("org_id", stats.org);
  return params.toString();
}

async function view(name, range, extra) {
  try {
    return await api("GET", `/analytics/${name}?${query(range, extra)}`);
  } catch (error) {
    if (error.status === 404 || error.status === 405) return null; // not offered here
    throw error;
  }
}

function kpi(title, value, key) {
  return el(
    "div",
    { class: "kpi", "data-kpi": key },
    el("b", { text: value }),
    el("span", { text: title }),
  );
}

function show(id, visible) {
  const card = /** @type {HTMLElement | null} */ ($(id).closest(".card"));
  if (card) card.hidden = !visible;
}

function dayLabel(value) {
  return new Date(`${value}T00:00:00`).toLocaleDateString(undefined, {
    day: "numeric",
    month: "short",
  });
}

async function load() {
  const range = stats.range;
  const [dashboard, bookings, drivers] = await Promise.all([
    view("dashboard", range),
    view("bookings", range),
    view("drivers", range),
  ]);
  const newer = Boolean(dashboard && typeof dashboard.bookings === "number");
  stats.newer = newer;
  $("csv-row").hidden = !newer; // CSV (Accept: text/csv) came with the nine views
  const [trucks, ratings, completed, revenue, legacyTrend] = await Promise.all(
    newer
      ? [
          view("trucks", range),
          view("ratings", range),
          view("trends", range, { metric: "completed", bucket: "day" }),
          view("trends", range, { metric: "revenue_cents", bucket: "day" }),
          null,
        ]
      : [null, null, null, null, view("trend", range)],
  );
  stats.views = { dashboard, bookings, drivers, trucks, ratings };

  // Headline figures.
  const b = bookings || {};
  const cards = [
    kpi("bookings", count(newer ? dashboard.bookings : b.total), "bookings"),
    kpi("completed jobs", count(b.completed), "completed_jobs"),
    kpi("completion rate", percent(b.completion_rate), "completion_rate"),
    kpi("cancellation rate", percent(b.cancellation_rate), "cancellation_rate"),
    kpi("revenue (completed)", moneyText(b.revenue_cents), "revenue"),
    kpi("fleet utilization", percent(dashboard && dashboard.fleet_utilization), "utilization"),
    kpi("active drivers", count(drivers && drivers.active_drivers), "active_drivers"),
  ];
  if (newer) {
    cards.push(
      kpi("no-show rate", percent(dashboard.no_show_rate), "no_show_rate"),
      kpi("on-time rate", percent(dashboard.on_time_rate), "on_time_rate"),
      kpi("open tickets", count(dashboard.open_tickets), "open_tickets"),
      kpi("overdue invoices", count(dashboard.overdue_invoices), "overdue_invoices"),
      kpi("pending verifications", count(dashboard.pending_verifications), "pending_verifications"),
    );
  }
  $("kpis").replaceChildren(...cards);
  const picked = /** @type {HTMLSelectElement} */ ($("range-org")).selectedOptions[0];
  const scope =
    dashboard && dashboard.scope === "platform"
      ? "whole platform"
      : stats.org && picked
        ? picked.textContent
        : "your organization";
  $("range-scope").textContent = dashboard
    ? scope + (dashboard.timezone ? ` · ${dashboard.timezone}` : "")
    : "";

  // Bookings (and completions) per day, revenue per day.
  let days = [];
  let perDay = [];
  let donePerDay = [];
  let revenuePerDay = [];
  if (newer) {
    days = dashboard.trend.map((p) => p.bucket_start);
    perDay = dashboard.trend.map((p) => p.value);
    const at = (trend) =>
      new Map(((trend && trend.points) || []).map((p) => [p.bucket_start, p.value]));
    const done = at(completed);
    const cash = at(revenue);
    donePerDay = days.map((d) => done.get(d) || 0);
    revenuePerDay = days.map((d) => cash.get(d) || 0);
  } else if (legacyTrend || dashboard) {
    const points = legacyTrend || dashboard.trend;
    days = points.map((p) => p.day);
    perDay = points.map((p) => p.bookings);
    donePerDay = points.map((p) => p.completed);
    revenuePerDay = points.map((p) => p.revenue_cents);
  }
  const labels = days.map(dayLabel);
  lineChart($("chart-trend"), {
    labels,
    label: "bookings per day",
    series: [
      { name: "bookings", values: perDay },
      { name: "completed jobs", values: donePerDay },
    ],
  });
  barChart($("chart-revenue"), {
    label: "revenue per day",
    items: days
      .map((d, i) => ({ label: labels[i], value: revenuePerDay[i] }))
      .filter((item) => item.value > 0),
    format: (cents) => money(cents, "EUR"),
  });

  // Bookings by status (colours from the board's lifecycle), top drivers.
  barChart($("chart-status"), {
    label: "bookings by status",
    items: Object.entries(b.by_status || {})
      .filter(([, n]) => n > 0)
      .map(([status, n]) => ({ label: label(status), value: n, color: colour(status) })),
  });
  barChart($("chart-drivers"), {
    label: "top drivers",
    items: ((drivers && drivers.top_performers) || []).map((d, i) => ({
      label: d.full_name,
      value: d.completed_jobs,
      color: PALETTE[i % PALETTE.length],
    })),
  });

  // Views of the nine-view API.
  show("chart-trucks", Boolean(trucks));
  if (trucks) {
    barChart($("chart-trucks"), {
      label: "truck utilization",
      format: percent,
      items: trucks.trucks.map((t) => ({ label: t.plate, value: t.utilization })),
    });
  }
  show("chart-ratings", Boolean(ratings));
  if (ratings) {
    barChart($("chart-ratings"), {
      label: "ratings by stars",
      items: ["5", "4", "3", "2", "1"].map((stars) => ({
        label: `${stars} ★`,
        value: ratings.distribution[stars] || 0,
        color: "#b45309",
      })),
    });
  }
  stats.charts = Object.fromEntries(
    [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[id^=chart-]"))].map(
      (node) => [node.id, Number(node.dataset.points || 0)],
    ),
  );
  office.loads += 1;
}

function readRange() {
  const start = localMidnight(control("range-start").value);
  const end = addDays(localMidnight(control("range-end").value), 1); // the last day counts whole
  if (!(end > start)) throw new Error("the range ends before it starts");
  return { start, end };
}

// Platform admins drill into one organization (the views' ?org_id=).
async function loadOrganizations(me) {
  if (me.role !== "platform_admin") return;
  const page = await api("GET", "/organizations?limit=200");
  $("range-org").replaceChildren(
    el("option", { value: "", text: "whole platform" }),
    ...page.items.map((org) =>
      el("option", { value: org.id, text: org.name, selected: org.id === stats.org }),
    ),
  );
  $("org-row").hidden = false;
}

async function downloadCsv() {
  const name = control("csv-view").value;
  showResult("range-error", "");
  try {
    const blob = await fetchBlob(`/analytics/${name}?${query(stats.range)}`, "text/csv");
    const text = await blob.text();
    stats.downloads.push({ view: name, type: blob.type, lines: text.split(/\r?\n/).length });
    const link = el("a", {
      href: URL.createObjectURL(new Blob([text], { type: "text/csv" })),
      download: `movehub-${name}-${isoDay(stats.range.start)}.csv`,
    });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    showResult("range-error", error.message, "error");
  }
}

function wire() {
  $("csv-download").addEventListener("click", downloadCsv);
  $("range-org").addEventListener("change", () => {
    stats.org = control("range-org").value;
    /** @type {HTMLFormElement} */ ($("range-form")).requestSubmit();
  });
  $("range-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showResult("range-error", "");
    try {
      stats.range = readRange();
      await load();
    } catch (error) {
      showResult("range-error", error.message, "error");
    }
  });
}

const today = localMidnight(isoDay(new Date()));
const params = new URLSearchParams(location.search);
control("range-start").value = params.get("from") || isoDay(addDays(today, -29));
control("range-end").value = params.get("to") || isoDay(addDays(today, 7));
wire();
bootPage("analytics", {
  who: "mover staff and platform admins",
  start: async (me) => {
    await loadLifecycle();
    await loadOrganizations(me);
    stats.range = readRange();
    await load();
  },
});
