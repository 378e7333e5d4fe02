// What every back-office page shares: the board's sign-in (one-time code, cookie session or a
// ?token= demo link), its REST helper and styles (imported from /board/, not copied), the nav,
// small DOM helpers and the page state tests read as window.__backoffice.

import { api, refreshSession, tokenFromUrl, whoAmI } from "/board/api.js";
import { showSignIn, wireSignIn } from "/board/signin.js";
import { $, API, board, control, setStatus, table } from "/board/state.js";

// control and table: typed lookups by id (JSDoc casts of $) for the type checker.
export { $, api, board, control, table };

export const STAFF = ["mover_admin", "dispatcher", "platform_admin"];
export const ADMINS = ["platform_admin"];

// What the page knows; each page adds its own part (office.calendar, office.invoices, ...).
/** @type {{ page: string | null, me: any, ready: boolean, loads: number, [part: string]: any }} */
export const office = { page: null, me: null, ready: false, loads: 0 };
/** @type {any} */ (window).__backoffice = office;

// An element with attributes and children (text goes in as text, never as HTML).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.startsWith("data-")) node.dataset[toCamel(key.slice(5))] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function toCamel(name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

// A status line under a form: ok (green), error (red) or neutral.
export function showResult(id, text, kind = "") {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("ok", kind === "ok");
  node.classList.toggle("error", kind === "error");
}

export function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: currency || "EUR",
    }).format((cents || 0) / 100);
  } catch {
    return `${((cents || 0) / 100).toFixed(2)} ${currency || ""}`.trim();
  }
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "";
}

export function day(value) {
  return value ? new Date(value).toLocaleDateString(undefined, { dateStyle: "medium" }) : "–";
}

export function clock(value) {
  return new Date(value).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

// yyyy-mm-dd of a local date (the value of an <input type=date>).
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// Local midnight of an <input type=date> value.
export function localMidnight(value) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d);
}

export function addDays(date, days) {
  const next = new Date(date);
  next.setDate(next.getDate() + days);
  return next;
}

// A binary answer (the invoice PDF) with the page's credentials: the bearer token of a demo
// link, else the cookie session (refreshed once if its access cookie has lapsed).
export async function fetchBlob(path, accept = "*/*", retry = true) {
  const headers = { Accept: accept };
  if (board.token) headers.Authorization = "Bearer " + board.token;
  const response = await fetch(API + path, { headers, credentials: "same-origin" });
  if (response.status === 401 && retry && !board.token && (await refreshSession())) {
    return fetchBlob(path, accept, false);
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new Error((problem && (problem.detail || problem.title)) || `HTTP ${response.status}`);
  }
  return response.blob();
}

function markNav(page, me) {
  for (const link of /** @type {NodeListOf<HTMLAnchorElement>} */ (
    document.querySelectorAll("nav.nav a")
  )) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    // The verification queue is the platform admins' (mover staff have no use for the link).
    if (link.dataset.roles && me) link.hidden = !link.dataset.roles.split(" ").includes(me.role);
  }
}

// Signs in (or shows the form), checks the role, then runs the page's `start(me)`.
export function bootPage(page, { roles = STAFF, who = "mover staff", start }) {
  office.page = page;
  markNav(page, null);
  let token = null;
  async function begin() {
    board.token = token;
    let me;
    try {
      me = await whoAmI();
    } catch (error) {
      setStatus("error", error.message);
      return;
    }
    if (!me) return showSignIn();
    if (!roles.includes(me.role)) {
      return showSignIn(`Signed in as ${me.full_name} (${me.role}): this page is for ${who}.`);
    }
    board.me = office.me = me;
    markNav(page, me);
    $("who").textContent = `${me.full_name} · ${me.role.replace("_", " ")}`;
    $("sign-out").hidden = false;
    try {
      await start(me);
      office.ready = true;
      setStatus("ready");
    } catch (error) {
      setStatus("error", error.message);
    }
  }
  token = tokenFromUrl();
  wireSignIn(() => {
    token = null;
    return begin();
  });
  begin();
}
