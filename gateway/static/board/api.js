// The REST side: the access token (demo ?token= link or cookie session), fetch with the CSRF
// header and one silent session refresh, problem+json errors, and the paged fleet lists.

import { API, board, params } from "./state.js";

const TOKEN_KEY = "movehub.board.token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function cookie(name) {
  const prefix = name + "=";
  for (const part of document.cookie.split(";")) {
    const item = part.trim();
    if (item.startsWith(prefix)) return decodeURIComponent(item.slice(prefix.length));
  }
  return "";
}

export function tokenFromUrl() {
  // A demo link carries ?token=; keep it for this tab only and take it out of the URL bar.
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  board.token = null;
}

export async function api(method, path, body, retry = true) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (board.token) headers.Authorization = "Bearer " + board.token;
  else if (!SAFE_METHODS.has(method)) headers["X-CSRF-Token"] = cookie("movehub_csrf");
  const response = await fetch(API + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && retry && !board.token && (await refreshSession())) {
    return api(method, path, body, false);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export async function refreshSession() {
  // The access cookie lives minutes; the refresh cookie (path /api/v1/auth) renews it.
  if (!cookie("movehub_csrf")) return false;
  const response = await fetch(API + "/auth/refresh", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": cookie("movehub_csrf"), Accept: "application/json" },
  }).catch(() => null);
  return Boolean(response && response.ok);
}

function withOrg(path) {
  if (!board.orgParam) return path;
  return path + (path.includes("?") ? "&" : "?") + "org_id=" + encodeURIComponent(board.orgParam);
}

export async function whoAmI() {
  try {
    return await api("GET", "/auth/me");
  } catch (error) {
    if (error.status === 401 && board.token) {
      // An expired demo link: forget it and try the cookie session instead.
      forgetToken();
      return whoAmI();
    }
    if (error.status === 401) return null;
    throw error;
  }
}

export async function loadList(path, into) {
  // Every page of a fleet list (limit 200 per page); best effort, the board works without.
  for (let offset = 0; offset < 5000; offset += 200) {
    const page = await api("GET", withOrg(`${path}?limit=200&offset=${offset}`));
    page.items.forEach(into);
    if (offset + page.items.length >= page.total || page.items.length === 0) break;
  }
}

// The page's server settings (/board/config.json); the defaults when it cannot be read.
export async function loadConfig(fallback) {
  return fetch("/board/config.json")
    .then((r) => (r.ok ? r.json() : fallback))
    .catch(() => fallback);
}
