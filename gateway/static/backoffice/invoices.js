// Invoices: the list (GET /invoices, every page), one invoice's details, its PDF opened in a
// new tab (fetched with the page's credentials, shown from a blob: URL) and a payment recorded
// by staff (POST /invoices/{id}/payments); the row shows the new paid and outstanding sums.

import { loadList } from "/board/api.js";
import {
  $,
  api,
  bootPage,
  control,
  day,
  el,
  fetchBlob,
  money,
  office,
  showResult,
  table,
} from "./common.js";

const inv = { rows: new Map(), selected: null, detail: null, pdf: null, payments: [] };
office.invoices = inv;

function outstanding(row) {
  return Math.max(0, row.total_cents - row.paid_cents);
}

function rowNode(row) {
  return el(
    "tr",
    {
      "data-invoice-id": row.id,
      "data-status": row.status,
      "data-paid-cents": row.paid_cents,
      class: inv.selected === row.id ? "selected" : "",
      onclick: () => select(row.id),
    },
    el("td", { text: row.number || "draft" }),
    el("td", {}, el("span", { class: "badge", text: row.status.replace("_", " ") })),
    el("td", { text: day(row.issue_date) }),
    el("td", { text: day(row.due_date) }),
    el("td", { class: "num", text: money(row.total_cents, row.currency) }),
    el("td", { class: "num paid", text: money(row.paid_cents, row.currency) }),
    el("td", { class: "num outstanding", text: money(outstanding(row), row.currency) }),
  );
}

function render() {
  const wanted = control("inv-status").value;
  const rows = [...inv.rows.values()]
    .filter((row) => !wanted || row.status === wanted)
    .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  table("invoices").tBodies[0].replaceChildren(...rows.map(rowNode));
  $("inv-count").textContent = `${rows.length} of ${inv.rows.size}`;
  // The filter offers the statuses the list has (the server's words, no copy kept here).
  const statuses = [...new Set([...inv.rows.values()].map((row) => row.status))].sort();
  $("inv-status").replaceChildren(
    el("option", { value: "", text: "all" }),
    ...statuses.map((s) =>
      el("option", { value: s, text: s.replace("_", " "), selected: s === wanted }),
    ),
  );
}

async function load() {
  const rows = new Map();
  await loadList("/invoices", (row) => rows.set(row.id, row));
  inv.rows = rows;
  render();
  if (inv.selected && rows.has(inv.selected)) await select(inv.selected);
  office.loads += 1;
}

function facts(invoice) {
  const pairs = [
    ["Bill to", invoice.bill_to_name || "–"],
    ["Status", invoice.status.replace("_", " ")],
    ["Issued", day(invoice.issue_date)],
    ["Due", day(invoice.due_date)],
    ["Total", money(invoice.total_cents, invoice.currency)],
    ["Paid", money(invoice.paid_cents, invoice.currency)],
    ["Outstanding", money(invoice.outstanding_cents, invoice.currency)],
    ["Lines", invoice.line_items.map((l) => l.description).join("; ") || "–"],
    [
      "Payments",
      invoice.payments.length
        ? invoice.payments
            .map(
              (p) =>
                `${money(p.amount_cents, invoice.currency)} ` +
                `(${String(p.method || "").replace("_", " ")}${p.reference ? `, ${p.reference}` : ""})`,
            )
            .join("; ")
        : "none",
    ],
  ];
  return pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]);
}

async function select(id) {
  inv.selected = id;
  for (const tr of table("invoices").tBodies[0].rows) {
    tr.classList.toggle("selected", tr.dataset.invoiceId === id);
  }
  const invoice = await api("GET", `/invoices/${id}`);
  inv.detail = invoice;
  $("inv-number").textContent = invoice.number || "draft";
  $("inv-empty").hidden = true;
  $("inv-facts").hidden = false;
  $("inv-facts").replaceChildren(...facts(invoice));
  control("inv-pdf").disabled = false;
  control("pay-submit").disabled = invoice.outstanding_cents <= 0;
  control("pay-amount").value = (invoice.outstanding_cents / 100).toFixed(2);
  showResult("inv-pdf-result", "");
}

async function openPdf() {
  const invoice = inv.detail;
  if (!invoice) return;
  showResult("inv-pdf-result", "Preparing the PDF…");
  try {
    const blob = await fetchBlob(`/invoices/${invoice.id}/pdf`, "application/pdf");
    const head = new TextDecoder().decode(await blob.slice(0, 5).arrayBuffer());
    const url = URL.createObjectURL(new Blob([blob], { type: "application/pdf" }));
    inv.pdf = { invoice_id: invoice.id, size: blob.size, type: blob.type, head, url };
    window.open(url, "_blank", "noopener");
    showResult("inv-pdf-result", `PDF opened (${Math.round(blob.size / 1024)} KB).`, "ok");
  } catch (error) {
    showResult("inv-pdf-result", error.message, "error");
  }
}

// "150", "150.5", "150,50" -> cents; null when it is not an amount.
export function cents(text) {
  const match = /^\s*(\d{1,10})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
}

async function recordPayment(event) {
  event.preventDefault();
  const invoice = inv.detail;
  if (!invoice) return;
  const amount = cents(control("pay-amount").value);
  if (!amount) return showResult("pay-result", "Enter an amount such as 150.00.", "error");
  control("pay-submit").disabled = true;
  try {
    const updated = await api("POST", `/invoices/${invoice.id}/payments`, {
      amount_cents: amount,
      method: control("pay-method").value,
      reference: control("pay-reference").value.trim(),
    });
    inv.payments.push({ invoice_id: invoice.id, amount_cents: amount, ok: true });
    inv.rows.set(updated.id, { ...inv.rows.get(updated.id), ...updated });
    render();
    await select(updated.id);
    showResult(
      "pay-result",
      `Recorded ${money(amount, updated.currency)}; ` +
        `${money(updated.outstanding_cents, updated.currency)} outstanding.`,
      "ok",
    );
  } catch (error) {
    inv.payments.push({
      invoice_id: invoice.id,
      amount_cents: amount,
      ok: false,
      message: error.message,
    });
    showResult("pay-result", error.message, "error");
    control("pay-submit").disabled = false;
  }
}

function wire() {
  $("inv-status").addEventListener("change", render);
  $("inv-reload").addEventListener("click", () =>
    load().catch((error) => showResult("pay-result", error.message, "error")),
  );
  $("inv-pdf").addEventListener("click", openPdf);
  $("pay-form").addEventListener("submit", recordPayment);
}

wire();
bootPage("invoices", { who: "mover staff and platform admins", start: load });
