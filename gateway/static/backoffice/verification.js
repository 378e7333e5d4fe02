// The platform admins' verification queue (GET /verification/queue): open a submission's
// document (taking it into review first), approve it, or reject it with a reason the mover
// sees. Decided submissions leave the queue.

import {
  $,
  ADMINS,
  api,
  bootPage,
  control,
  day,
  el,
  office,
  shortId,
  showResult,
  table,
} from "./common.js";

const PAGE = 100;
const REVIEWING = "under_review"; // the submission status a decision is made from
const queue = { rows: new Map(), orgs: new Map(), selected: null, opened: [], decisions: [] };
office.verification = queue;

const words = (text) => String(text || "").replaceAll("_", " ");

function rowNode(row) {
  return el(
    "tr",
    {
      "data-submission-id": row.id,
      "data-status": row.status,
      class: queue.selected === row.id ? "selected" : "",
      onclick: () => select(row.id),
    },
    el("td", { text: day(row.created_at) }),
    el("td", { text: words(row.kind) }),
    el("td", { text: `${words(row.subject_type)} ${shortId(row.subject_id)}` }),
    el("td", { text: queue.orgs.get(row.org_id) || shortId(row.org_id) }),
    el("td", { text: day(row.expires_on) }),
    el("td", {}, el("span", { class: "badge", text: words(row.status) })),
  );
}

function render() {
  const rows = [...queue.rows.values()];
  table("queue").tBodies[0].replaceChildren(...rows.map(rowNode));
  $("queue-count").textContent = `${rows.length} waiting`;
}

async function load() {
  const status = control("queue-status").value;
  const rows = new Map();
  for (let offset = 0; offset < 2000; offset += PAGE) {
    const page = await api(
      "GET",
      `/verification/queue?limit=${PAGE}&offset=${offset}` + (status ? `&status=${status}` : ""),
    );
    page.items.forEach((row) => rows.set(row.id, row));
    if (offset + page.items.length >= page.total || !page.items.length) break;
  }
  queue.rows = rows;
  // The organizations' names, once each (a queue names few of them).
  const unknown = [...new Set([...rows.values()].map((row) => row.org_id))].filter(
    (id) => !queue.orgs.has(id),
  );
  await Promise.all(
    unknown.slice(0, 20).map((id) =>
      api("GET", `/organizations/${id}`)
        .then((org) => queue.orgs.set(id, org.name))
        .catch(() => null),
    ),
  );
  render();
  if (queue.selected && !rows.has(queue.selected)) clearDetail();
  office.loads += 1;
}

function clearDetail() {
  queue.selected = null;
  $("sub-empty").hidden = false;
  $("sub-facts").hidden = true;
  for (const id of ["sub-open", "sub-approve", "reject-submit"]) control(id).disabled = true;
}

function showDetail(row) {
  const pairs = [
    ["Document", words(row.kind)],
    ["Status", words(row.status)],
    ["Subject", `${words(row.subject_type)} ${row.subject_id}`],
    ["Organization", queue.orgs.get(row.org_id) || row.org_id],
    ["Expires", day(row.expires_on)],
    ["Submitted", new Date(row.created_at).toLocaleString()],
  ];
  $("sub-facts").replaceChildren(
    ...pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]),
  );
  $("sub-empty").hidden = true;
  $("sub-facts").hidden = false;
  for (const id of ["sub-open", "sub-approve", "reject-submit"]) control(id).disabled = false;
}

function select(id) {
  queue.selected = id;
  for (const tr of table("queue").tBodies[0].rows) {
    tr.classList.toggle("selected", tr.dataset.submissionId === id);
  }
  showResult("sub-result", "");
  showDetail(queue.rows.get(id));
}

// A decision needs the submission in review: a waiting one is taken into review first.
async function inReview(row) {
  if (row.status === REVIEWING) return row;
  const reviewed = await api("POST", `/verification/submissions/${row.id}/review`);
  queue.rows.set(reviewed.id, reviewed);
  render();
  showDetail(reviewed);
  return reviewed;
}

async function openDocument() {
  const row = queue.rows.get(queue.selected);
  if (!row) return;
  try {
    const current = await inReview(row);
    const link = await api("GET", `/documents/${current.document_id}/download`);
    queue.opened.push({ submission_id: row.id, url: link.url });
    window.open(link.url, "_blank", "noopener");
    showResult("sub-result", "Document opened in a new tab; the submission is in review.", "ok");
  } catch (error) {
    showResult("sub-result", error.message, "error");
  }
}

async function decide(action, body) {
  const row = queue.rows.get(queue.selected);
  if (!row) return;
  try {
    await inReview(row);
    const decided = await api("POST", `/verification/submissions/${row.id}/${action}`, body);
    queue.decisions.push({ submission_id: row.id, status: decided.status, ok: true });
    showResult(
      "sub-result",
      `${words(decided.kind)} ${words(decided.status)}` +
        (decided.rejection_reason ? `: ${decided.rejection_reason}` : "."),
      "ok",
    );
    control("reject-reason").value = "";
    await load();
  } catch (error) {
    queue.decisions.push({ submission_id: row.id, ok: false, message: error.message });
    showResult("sub-result", error.message, "error");
  }
}

function wire() {
  $("queue-status").addEventListener("change", () => load().catch(report));
  $("queue-reload").addEventListener("click", () => load().catch(report));
  $("sub-open").addEventListener("click", openDocument);
  $("sub-approve").addEventListener("click", () => decide("approve"));
  $("reject-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = control("reject-reason").value.trim();
    if (reason.length < 3) {
      return showResult("sub-result", "Give the mover a reason (3 characters or more).", "error");
    }
    return decide("reject", { reason });
  });
}

function report(error) {
  showResult("sub-result", error.message, "error");
}

wire();
bootPage("verification", { roles: ADMINS, who: "platform admins", start: load });
