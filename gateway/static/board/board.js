// The live fleet board: signs in (cookie session or ?token=), follows /ws/board
// (snapshot, sequenced events, coalesced position ticks; see docs/realtime-protocol.md)
// and draws the org's service area, drivers, trucks and bookings in SVG, projected with
// Web Mercator and fitted to the service area. No build step, no CDN, no tiles by default.
"use strict";

(() => {
  const API = "/api/v1";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const VIEW_W = 1000;
  const VIEW_H = 700;
  const PAD = 0.06; // of the fitted frame, around the service area
  const TOKEN_KEY = "movehub.board.token";
  const HEARTBEAT_MS = 15000;
  const FEED_MAX = 200;
  const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
  const STAFF_ROLES = new Set(["mover_admin", "dispatcher", "platform_admin"]);
  const DONE = new Set(["completed", "cancelled", "no_show", "disputed"]);
  const ASSIGNABLE = new Set(["pending", "confirmed"]);
  // Moving a booking to these frees its driver and truck (confirmed: unassigned).
  const RELEASED = new Set(["confirmed", "cancelled", "no_show"]);
  // Outbox topics that are deliveries, not fleet news: applied, kept out of the feed.
  const QUIET = /^notify\./;
  // Marker colour by what the driver is doing (job status), grey when offline.
  const COLORS = {
    offline: "#9ca3af", idle: "#16a34a", assigned: "#2563eb", en_route: "#f59e0b",
    arrived: "#db2777", loading: "#9333ea", in_transit: "#ea580c", unloading: "#0891b2",
    completed: "#4b5563", pending: "#a3a3a3", confirmed: "#64748b", cancelled: "#991b1b",
    no_show: "#7f1d1d", disputed: "#b91c1c",
  };
  const LEGEND = ["idle", "assigned", "en_route", "arrived", "loading", "in_transit",
    "unloading", "offline"];

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  // Everything the page knows; tests read it as window.__board.
  const board = {
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
    events: [],
    frames: { snapshot: 0, events: 0, tick: 0, error: 0 },
    closes: [],
    projection: null,
    selected: null,
    socket: null,
    driver(id) { // a plain copy, for tests and the console
      const d = this.drivers.get(id);
      if (!d) return null;
      const p = this.projection && d.lat != null ? this.projection.project(d.lon, d.lat) : null;
      return { ...d, x: p ? p.x : null, y: p ? p.y : null };
    },
    project(lon, lat) { return this.projection ? this.projection.project(lon, lat) : null; },
    receive(frame) { receive(frame); }, // feeds one server frame (tests, offline demos)
  };
  window.__board = board;

  // ---- auth and REST -------------------------------------------------------------------

  class ApiError extends Error {
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

  function tokenFromUrl() {
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

  async function api(method, path, body, retry = true) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (board.token) headers.Authorization = "Bearer " + board.token;
    else if (!SAFE_METHODS.has(method)) headers["X-CSRF-Token"] = cookie("movehub_csrf");
    const response = await fetch(API + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && retry && !board.token && await refreshSession()) {
      return api(method, path, body, false);
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  async function refreshSession() {
    // The access cookie lives minutes; the refresh cookie (path /api/v1/auth) renews it.
    if (!cookie("movehub_csrf")) return false;
    const response = await fetch(API + "/auth/refresh", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": cookie("movehub_csrf"), Accept: "application/json" },
    }).catch(() => null);
    return Boolean(response && response.ok);
  }

  function withOrg(path) {
    if (!board.orgParam) return path;
    return path + (path.includes("?") ? "&" : "?") + "org_id=" + encodeURIComponent(board.orgParam);
  }

  async function whoAmI() {
    try {
      return await api("GET", "/auth/me");
    } catch (error) {
      if (error.status === 401 && board.token) {
        // An expired demo link: forget it and try the cookie session instead.
        sessionStorage.removeItem(TOKEN_KEY);
        board.token = null;
        return whoAmI();
      }
      if (error.status === 401) return null;
      throw error;
    }
  }

  function showSignIn(note) {
    setStatus("signin");
    $("signin").hidden = false;
    if (note) $("signin-note").textContent = note;
    $("signin-destination").focus();
  }

  function wireSignIn() {
    let requested = null;
    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("signin-error");
      error.textContent = "";
      const destination = $("signin-destination").value.trim();
      try {
        if (requested !== destination) {
          const channel = destination.includes("@") ? "email" : "sms";
          await api("POST", "/auth/otp/request", { channel, destination });
          requested = destination;
          $("signin-code-row").hidden = false;
          $("signin-submit").textContent = "Sign in";
          $("signin-code").focus();
          return;
        }
        await api("POST", "/auth/otp/verify", { destination, code: $("signin-code").value.trim() });
        $("signin").hidden = true;
        await start();
      } catch (failure) {
        error.textContent = failure.message;
      }
    });
    $("sign-out").addEventListener("click", async () => {
      sessionStorage.removeItem(TOKEN_KEY);
      if (!board.token) await api("POST", "/auth/logout").catch(() => null);
      board.token = null;
      if (board.socket) board.socket.close(1000, "signed out");
      location.reload();
    });
  }

  async function loadList(path, into) {
    // Every page of a fleet list (limit 200 per page); best effort, the board works without.
    for (let offset = 0; offset < 5000; offset += 200) {
      const page = await api("GET", withOrg(`${path}?limit=200&offset=${offset}`));
      page.items.forEach(into);
      if (offset + page.items.length >= page.total || page.items.length === 0) break;
    }
  }

  async function loadNames() {
    await Promise.all([
      loadList("/drivers", (d) => board.names.drivers.set(d.id, d.full_name)),
      loadList("/trucks", (t) => {
        board.names.trucks.set(t.id, t.plate);
        if (t.home_base) board.homes.set(t.id, t.home_base);
        if (!board.trucks.has(t.id)) board.trucks.set(t.id, { id: t.id, capacity_m3: t.capacity_m3 });
      }),
    ]).catch((error) => feed({ kind: "page.error", data: { detail: error.message } }));
    renderAll();
  }

  // ---- the board socket ------------------------------------------------------------------

  let backoffMs = 500;
  let heartbeat = null;

  function socketUrl() {
    const query = new URLSearchParams();
    if (board.token) query.set("token", board.token);
    if (board.seq !== null) query.set("since", String(board.seq));
    if (board.seq !== null && board.epoch) query.set("epoch", board.epoch);
    if (board.orgParam) query.set("org_id", board.orgParam);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = board.config.board_socket || "/ws/board";
    const rest = query.toString();
    return `${scheme}//${location.host}${path}${rest ? "?" + rest : ""}`;
  }

  function connect() {
    setStatus(board.seq === null ? "connecting" : "reconnecting");
    const socket = new WebSocket(socketUrl());
    board.socket = socket;
    socket.onopen = () => {
      heartbeat = setInterval(() => send({ type: "heartbeat" }), HEARTBEAT_MS);
    };
    socket.onmessage = (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (frame && typeof frame === "object") receive(frame);
    };
    socket.onclose = (close) => {
      clearInterval(heartbeat);
      if (board.socket !== socket) return;
      board.socket = null;
      board.closes.push({ code: close.code, reason: close.reason, at: Date.now() });
      onClosed(close.code, close.reason);
    };
  }

  async function onClosed(code, reason) {
    if (code === 4401) {
      // The session ran out: renew the cookie, or ask to sign in again.
      if (!board.token && await refreshSession()) return reconnectSoon();
      if (board.token) sessionStorage.removeItem(TOKEN_KEY);
      board.token = null;
      return showSignIn("Your session ended: " + (reason || "sign in again"));
    }
    if (code === 4403) {
      setStatus("error", reason || "this account may not watch this board");
      return;
    }
    setStatus("reconnecting", reason);
    reconnectSoon();
  }

  function reconnectSoon() {
    const wait = backoffMs;
    backoffMs = Math.min(backoffMs * 2, 10000);
    setTimeout(connect, wait);
  }

  function send(frame) {
    if (board.socket && board.socket.readyState === WebSocket.OPEN) {
      board.socket.send(JSON.stringify(frame));
    }
  }

  function receive(frame) {
    board.frames[frame.type] = (board.frames[frame.type] || 0) + 1;
    if (frame.type === "snapshot") onSnapshot(frame);
    else if (frame.type === "events") onEvents(frame.events || [], frame.epoch);
    else if (frame.type === "tick") onTick(frame);
    else if (frame.type === "error") feed({ kind: "error", data: frame });
    if (frame.type === "snapshot" || frame.type === "tick" || frame.type === "events") {
      backoffMs = 500;
      if (board.status !== "live") setStatus("live");
    }
  }

  function onSnapshot(snapshot) {
    board.seq = snapshot.seq ?? board.seq;
    board.epoch = snapshot.epoch ?? board.epoch;
    board.org = snapshot.org || board.org;
    board.drivers = new Map((snapshot.drivers || []).map((d) => [d.id, { ...d }]));
    const trucks = new Map((snapshot.trucks || []).map((t) => [t.id, { ...t }]));
    for (const [id, truck] of board.trucks) if (!trucks.has(id)) trucks.set(id, truck);
    board.trucks = trucks;
    board.bookings = new Map((snapshot.bookings || []).map((b) => [b.id, { ...b }]));
    for (const driver of board.drivers.values()) {
      if (driver.name) board.names.drivers.set(driver.id, driver.name);
    }
    for (const truck of board.trucks.values()) {
      if (truck.plate) board.names.trucks.set(truck.id, truck.plate);
    }
    board.projection = fitProjection();
    $("org-name").textContent = (board.org && board.org.name) || "";
    renderAll(true);
    feed({ kind: "snapshot", data: { drivers: board.drivers.size, bookings: board.bookings.size } });
  }

  function onTick(tick) {
    board.serverSeq = tick.seq ?? board.serverSeq;
    for (const change of tick.drivers || []) {
      const driver = board.drivers.get(change.id) || { id: change.id };
      Object.assign(driver, change);
      board.drivers.set(change.id, driver);
      drawDriver(driver);
    }
    renderStats();
  }

  function onEvents(events, epoch) {
    // Another epoch's seqs say nothing about ours (the server sends a snapshot first).
    if (epoch && board.epoch && epoch !== board.epoch) return;
    let bookingsChanged = false;
    for (const event of events) {
      if (typeof event.seq === "number") {
        if (board.seq !== null && event.seq <= board.seq) continue; // already applied
        board.seq = event.seq;
      }
      bookingsChanged = applyEvent(event) || bookingsChanged;
      if (!QUIET.test(event.kind || "")) feed(event);
    }
    if (bookingsChanged) renderBookings();
    renderStats();
  }

  // Applies one sequenced event to the page's state; true when bookings changed.
  function applyEvent(event) {
    const data = event.data || {};
    const booking = data.booking_id ? board.bookings.get(data.booking_id) : null;
    if (data.booking && data.booking.id) {
      board.bookings.set(data.booking.id, { ...board.bookings.get(data.booking.id), ...data.booking });
    }
    if (data.driver && data.driver.id) {
      const driver = { ...board.drivers.get(data.driver.id), ...data.driver };
      board.drivers.set(driver.id, driver);
      drawDriver(driver);
    }
    switch (event.kind) {
      case "booking.status": {
        const status = data.to || data.status;
        const driverId = data.driver_id || (booking && booking.driver_id);
        setDriverJob(driverId, data.booking_id, status);
        if (booking && status) {
          booking.status = status;
          if (RELEASED.has(status)) { booking.driver_id = null; booking.truck_id = null; }
        }
        return true;
      }
      case "assignment.created":
        if (booking) {
          booking.driver_id = data.driver_id ?? booking.driver_id;
          booking.truck_id = data.truck_id ?? booking.truck_id;
          if (ASSIGNABLE.has(booking.status)) booking.status = "assigned";
        }
        setDriverJob(data.driver_id, data.booking_id, "assigned");
        return true;
      case "assignment.removed":
        if (booking) {
          setDriverJob(booking.driver_id, null, null);
          booking.driver_id = null;
          booking.truck_id = null;
          if (booking.status === "assigned") booking.status = "confirmed";
        }
        return true;
      case "alert.offline": {
        const driver = board.drivers.get(data.driver_id);
        if (driver) { driver.online = false; drawDriver(driver); }
        return false;
      }
      case "alert.late":
        if (booking) booking.late = true;
        return true;
      case "driver.arrived": {
        const marker = driverMarker(data.driver_id);
        if (marker) {
          marker.classList.add("arrived");
          setTimeout(() => marker.classList.remove("arrived"), 4000);
        }
        return false;
      }
      default:
        return Boolean(data.booking);
    }
  }

  function setDriverJob(driverId, bookingId, status) {
    const driver = driverId ? board.drivers.get(driverId) : null;
    if (!driver) return;
    const active = bookingId && status && !DONE.has(status) && !RELEASED.has(status);
    driver.job = active ? { booking_id: bookingId, status } : null;
    driver.status = active ? status : "idle";
    drawDriver(driver);
  }

  // ---- projection ------------------------------------------------------------------------

  function mercator(lon, lat) {
    // Web Mercator on the unit square, y pointing down (like screen and tile coordinates).
    const clamped = Math.max(-85.05112878, Math.min(85.05112878, lat));
    const sin = Math.sin((clamped * Math.PI) / 180);
    return [(lon + 180) / 360, 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)];
  }

  function areaRings(area) {
    if (!area || !area.coordinates) return [];
    if (area.type === "Polygon") return area.coordinates;
    if (area.type === "MultiPolygon") return area.coordinates.flat();
    if (area.type === "Feature") return areaRings(area.geometry);
    return [];
  }

  function fitProjection() {
    let points = areaRings(board.org && board.org.service_area).flat();
    if (points.length === 0) {
      // No service area: fit whatever we can see.
      for (const d of board.drivers.values()) if (d.lat != null) points.push([d.lon, d.lat]);
      for (const b of board.bookings.values()) {
        if (b.pickup) points.push([b.pickup.lon, b.pickup.lat]);
        if (b.dropoff) points.push([b.dropoff.lon, b.dropoff.lat]);
      }
    }
    if (points.length === 0) points = [[13.3, 52.45], [13.5, 52.6]];
    const xy = points.map(([lon, lat]) => mercator(lon, lat));
    let minX = Math.min(...xy.map((p) => p[0]));
    let maxX = Math.max(...xy.map((p) => p[0]));
    let minY = Math.min(...xy.map((p) => p[1]));
    let maxY = Math.max(...xy.map((p) => p[1]));
    const spanX = Math.max(maxX - minX, 1e-7);
    const spanY = Math.max(maxY - minY, 1e-7);
    minX -= spanX * PAD; maxX += spanX * PAD; minY -= spanY * PAD; maxY += spanY * PAD;
    const scale = Math.min(VIEW_W / (maxX - minX), VIEW_H / (maxY - minY));
    const offsetX = (VIEW_W - (maxX - minX) * scale) / 2 - minX * scale;
    const offsetY = (VIEW_H - (maxY - minY) * scale) / 2 - minY * scale;
    return {
      scale, offsetX, offsetY,
      project(lon, lat) {
        const [x, y] = mercator(lon, lat);
        return { x: x * scale + offsetX, y: y * scale + offsetY };
      },
      unit(px, py) { return [(px - offsetX) / scale, (py - offsetY) / scale]; },
    };
  }

  // ---- drawing ---------------------------------------------------------------------------

  function svg(tag, attributes = {}, parent = null) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function clear(id) {
    const layer = $(id);
    while (layer.firstChild) layer.removeChild(layer.firstChild);
    return layer;
  }

  function renderAll(fresh = false) {
    if (fresh) {
      drawTiles();
      drawGrid();
      drawArea();
      clear("layer-drivers");
    }
    for (const driver of board.drivers.values()) drawDriver(driver);
    for (const marker of $("layer-drivers").querySelectorAll(".driver")) {
      if (!board.drivers.has(marker.dataset.driverId)) marker.remove();
    }
    renderBookings();
    renderStats();
  }

  function renderBookings() {
    drawBookings();
    drawTrucks();
    renderJobs();
    renderAssignForm();
  }

  function drawTiles() {
    const layer = clear("layer-tiles");
    const template = board.config.tile_url;
    const projection = board.projection;
    if (!template || !projection) return;
    const zoom = Math.max(0, Math.min(19, Math.round(Math.log2(projection.scale / 256))));
    const tiles = 2 ** zoom;
    const size = projection.scale / tiles;
    const [ux0, uy0] = projection.unit(0, 0);
    const [ux1, uy1] = projection.unit(VIEW_W, VIEW_H);
    const x0 = Math.max(0, Math.floor(ux0 * tiles));
    const x1 = Math.min(tiles - 1, Math.floor(ux1 * tiles));
    const y0 = Math.max(0, Math.floor(uy0 * tiles));
    const y1 = Math.min(tiles - 1, Math.floor(uy1 * tiles));
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 200) return;
    for (let x = x0; x <= x1; x += 1) {
      for (let y = y0; y <= y1; y += 1) {
        const href = template.replace("{z}", zoom).replace("{x}", x).replace("{y}", y);
        svg("image", {
          href, x: x * size + projection.offsetX, y: y * size + projection.offsetY,
          width: size, height: size, preserveAspectRatio: "none", opacity: 0.85,
        }, layer);
      }
    }
  }

  function drawGrid() {
    // A kilometre grid stands in for the missing map: it tells distances at a glance.
    const layer = clear("layer-grid");
    const projection = board.projection;
    if (!projection || board.config.tile_url) return;
    const uy0 = projection.unit(0, 0)[1];
    const uy1 = projection.unit(VIEW_W, VIEW_H)[1];
    const midLat = latOf((uy0 + uy1) / 2);
    // Metres per view unit at the middle of the frame.
    const metresPerUnit = (40075016.686 * Math.cos((midLat * Math.PI) / 180)) / projection.scale;
    const steps = [250, 500, 1000, 2000, 5000, 10000, 20000, 50000];
    const step = steps.find((s) => s / metresPerUnit >= 80) || steps[steps.length - 1];
    const every = step / metresPerUnit;
    const group = svg("g", { class: "grid" }, layer);
    for (let x = every; x < VIEW_W; x += every) {
      svg("line", { x1: x, y1: 0, x2: x, y2: VIEW_H }, group);
    }
    for (let y = every; y < VIEW_H; y += every) {
      svg("line", { x1: 0, y1: y, x2: VIEW_W, y2: y }, group);
    }
    $("scale").textContent = `grid ${step >= 1000 ? step / 1000 + " km" : step + " m"}`;
  }

  function latOf(unitY) {
    const n = Math.PI - 2 * Math.PI * unitY;
    return (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
  }

  function drawArea() {
    const layer = clear("layer-area");
    const rings = areaRings(board.org && board.org.service_area);
    if (!board.projection || rings.length === 0) return;
    const d = rings.map((ring) => ring.map(([lon, lat], i) => {
      const p = board.projection.project(lon, lat);
      return `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`;
    }).join("") + "Z").join("");
    svg("path", { class: "area", d, "fill-rule": "evenodd", "data-area": "service" }, layer);
  }

  function driverStatus(driver) {
    // The server's own word (snapshot, tick) first: the job status, or idle.
    if (driver.online === false) return "offline";
    if (driver.status && COLORS[driver.status] && !DONE.has(driver.status)) return driver.status;
    if (driver.job && driver.job.status) return driver.job.status;
    return "idle";
  }

  function driverMarker(id) {
    return $("layer-drivers").querySelector(`[data-driver-id="${CSS.escape(String(id))}"]`);
  }

  function initials(name) {
    return (name || "?").split(/\s+/).map((part) => part[0] || "").join("").slice(0, 3).toUpperCase();
  }

  function drawDriver(driver) {
    if (!board.projection || driver.lat == null || driver.lon == null) return;
    const p = board.projection.project(driver.lon, driver.lat);
    let marker = driverMarker(driver.id);
    if (!marker) {
      marker = svg("g", { class: "driver", "data-driver-id": driver.id }, $("layer-drivers"));
      const heading = svg("g", { class: "heading" }, marker);
      svg("path", { d: "M0,-15 L4.5,-8 L-4.5,-8 Z" }, heading);
      svg("circle", { r: 7 }, marker);
      svg("text", { x: 10, y: 4 }, marker);
      svg("title", {}, marker);
    }
    const status = driverStatus(driver);
    const name = board.names.drivers.get(driver.id) || driver.name || driver.id.slice(0, 8);
    marker.setAttribute("data-status", status);
    marker.setAttribute("data-online", String(driver.online !== false));
    marker.setAttribute("data-lat", String(driver.lat));
    marker.setAttribute("data-lon", String(driver.lon));
    marker.setAttribute("data-x", p.x.toFixed(2));
    marker.setAttribute("data-y", p.y.toFixed(2));
    marker.style.transform = `translate(${p.x.toFixed(2)}px, ${p.y.toFixed(2)}px)`;
    marker.querySelector("circle").setAttribute("fill", COLORS[status] || COLORS.idle);
    const heading = marker.querySelector(".heading");
    heading.style.display = driver.heading == null ? "none" : "";
    heading.setAttribute("transform", `rotate(${Number(driver.heading) || 0})`);
    placeLabel(marker.querySelector("text"), driver.heading);
    marker.querySelector("text").textContent = initials(name);
    const speed = driver.speed == null ? "" : ` · ${(driver.speed * 3.6).toFixed(0)} km/h`;
    marker.querySelector("title").textContent = `${name} — ${status.replace("_", " ")}${speed}`;
  }

  function placeLabel(label, heading) {
    // Behind the marker, opposite its heading arrow (beside it when the heading is unknown).
    if (heading == null) {
      label.setAttribute("x", 10);
      label.setAttribute("y", 4);
      label.style.textAnchor = "start";
      return;
    }
    const radians = (Number(heading) * Math.PI) / 180;
    const dx = -Math.sin(radians);
    const dy = Math.cos(radians);
    label.setAttribute("x", (dx * 11).toFixed(1));
    label.setAttribute("y", (dy * 13 + 4).toFixed(1));
    label.style.textAnchor = dx > 0.35 ? "start" : dx < -0.35 ? "end" : "middle";
  }

  function pin(layer, booking, stop, point) {
    const p = board.projection.project(point.lon, point.lat);
    const group = svg("g", {
      class: `pin ${stop}${board.selected === booking.id ? " selected" : ""}`,
      "data-booking-id": booking.id, "data-stop": stop,
      transform: `translate(${p.x.toFixed(2)} ${p.y.toFixed(2)})`,
    }, layer);
    svg("path", { d: "M0,0 C-3,-6 -8,-9 -8,-14 A8,8 0 1 1 8,-14 C8,-9 3,-6 0,0 Z" }, group);
    svg("text", { y: -11 }, group).textContent = stop === "pickup" ? "P" : "D";
    svg("title", {}, group).textContent = `${stop}: ${point.address || ""} (${booking.status})`;
    group.addEventListener("click", () => select(booking.id));
    return p;
  }

  function drawBookings() {
    const routes = clear("layer-routes");
    const pins = clear("layer-pins");
    if (!board.projection) return;
    for (const booking of board.bookings.values()) {
      if (DONE.has(booking.status) || !booking.pickup || !booking.dropoff) continue;
      const a = board.projection.project(booking.pickup.lon, booking.pickup.lat);
      const b = board.projection.project(booking.dropoff.lon, booking.dropoff.lat);
      svg("line", {
        class: `route-line${board.selected === booking.id ? " selected" : ""}`,
        x1: a.x, y1: a.y, x2: b.x, y2: b.y, "data-booking-id": booking.id,
      }, routes);
      pin(pins, booking, "pickup", booking.pickup);
      pin(pins, booking, "dropoff", booking.dropoff);
    }
  }

  function truckPosition(truck, index) {
    if (truck.lat != null && truck.lon != null) return { lat: truck.lat, lon: truck.lon, dx: 0 };
    // A truck on an active job travels with its driver.
    for (const booking of board.bookings.values()) {
      if (booking.truck_id !== truck.id || DONE.has(booking.status)) continue;
      const driver = board.drivers.get(booking.driver_id);
      if (driver && driver.lat != null && booking.status !== "assigned") {
        return { lat: driver.lat, lon: driver.lon, dx: 10 };
      }
    }
    const home = board.homes.get(truck.id);
    if (home) return { lat: home.lat, lon: home.lon, dx: (index % 6) * 13 - 32 };
    return null;
  }

  function drawTrucks() {
    const layer = clear("layer-trucks");
    if (!board.projection) return;
    let index = 0;
    for (const truck of board.trucks.values()) {
      const where = truckPosition(truck, index);
      index += 1;
      if (!where) continue;
      const p = board.projection.project(where.lon, where.lat);
      const group = svg("g", {
        class: "truck", "data-truck-id": truck.id,
        transform: `translate(${(p.x + where.dx).toFixed(2)} ${(p.y + 12).toFixed(2)})`,
      }, layer);
      svg("rect", { x: -6, y: -4, width: 12, height: 8, rx: 1.5 }, group);
      svg("title", {}, group).textContent = `truck ${truckName(truck.id)}`;
    }
  }

  // ---- side panels -----------------------------------------------------------------------

  function when(value) {
    if (value == null) return "";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return date.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  }

  function clock(value) {
    const date = value == null ? new Date()
      : typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function short(address) {
    return (address || "?").split(",")[0];
  }

  function driverName(id) {
    if (!id) return "";
    const driver = board.drivers.get(id);
    return board.names.drivers.get(id) || (driver && driver.name) || id.slice(0, 8);
  }

  function truckName(id) {
    return id ? board.names.trucks.get(id) || id.slice(0, 8) : "";
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = "badge";
    span.style.background = COLORS[status] || "#6b7280";
    span.textContent = (status || "?").replace("_", " ");
    return span;
  }

  function sortedBookings() {
    return [...board.bookings.values()].sort((a, b) =>
      String(a.window_start).localeCompare(String(b.window_start)));
  }

  function renderJobs() {
    const body = $("jobs").tBodies[0];
    body.replaceChildren();
    let active = 0;
    for (const booking of sortedBookings()) {
      if (!DONE.has(booking.status)) active += 1;
      const row = body.insertRow();
      row.dataset.bookingId = booking.id;
      row.dataset.status = booking.status;
      if (board.selected === booking.id) row.classList.add("selected");
      if (booking.late) row.classList.add("late");
      row.insertCell().textContent = when(booking.window_start);
      row.insertCell().appendChild(badge(booking.status));
      const route = row.insertCell();
      route.className = "route";
      route.textContent = `${short(booking.pickup && booking.pickup.address)} → ` +
        short(booking.dropoff && booking.dropoff.address);
      const crew = row.insertCell();
      crew.textContent = booking.driver_id
        ? `${driverName(booking.driver_id)} · ${truckName(booking.truck_id)}` : "unassigned";
      row.addEventListener("click", () => select(booking.id));
    }
    $("jobs-count").textContent = `${active} open of ${board.bookings.size}`;
  }

  function option(select, value, label) {
    const node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    select.appendChild(node);
  }

  function fillSelect(select, entries) {
    const keep = select.value;
    select.replaceChildren();
    for (const [value, label] of entries) option(select, value, label);
    if (entries.some(([value]) => value === keep)) select.value = keep;
  }

  function renderAssignForm() {
    const open = sortedBookings().filter((b) => !DONE.has(b.status));
    fillSelect($("assign-booking"), open.map((b) => [b.id,
      `${when(b.window_start)} · ${short(b.pickup && b.pickup.address)} · ${b.status}` +
      (b.driver_id ? ` (${driverName(b.driver_id)})` : "")]));
    if (board.selected && open.some((b) => b.id === board.selected)) {
      $("assign-booking").value = board.selected;
    } else if (!board.selected) {
      const firstFree = open.find((b) => ASSIGNABLE.has(b.status) && !b.driver_id);
      if (firstFree && !$("assign-booking").dataset.touched) $("assign-booking").value = firstFree.id;
    }
    const drivers = [...board.drivers.values()].sort((a, b) =>
      driverName(a.id).localeCompare(driverName(b.id)));
    fillSelect($("assign-driver"), drivers.map((d) => [d.id,
      `${driverName(d.id)} · ${driverStatus(d).replace("_", " ")}`]));
    const trucks = [...board.trucks.values()].sort((a, b) =>
      truckName(a.id).localeCompare(truckName(b.id)));
    fillSelect($("assign-truck"), trucks.map((t) => [t.id,
      `${truckName(t.id)}${t.capacity_m3 ? ` · ${t.capacity_m3} m³` : ""}`]));
  }

  function select(bookingId) {
    board.selected = bookingId;
    $("assign-booking").value = bookingId;
    drawBookings();
    renderJobs();
  }

  function result(text, ok) {
    const node = $("assign-result");
    node.textContent = text;
    node.className = `result ${ok ? "ok" : "error"}`;
  }

  function wireAssign() {
    $("assign-booking").addEventListener("change", (event) => {
      event.target.dataset.touched = "1";
      select(event.target.value);
    });
    const assign = async (auto) => {
      const bookingId = $("assign-booking").value;
      if (!bookingId) return result("choose a booking first", false);
      const buttons = [$("assign-manual"), $("assign-auto")];
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const path = `/bookings/${bookingId}/assign${auto ? "/auto" : ""}`;
        const body = auto ? undefined
          : { driver_id: $("assign-driver").value, truck_id: $("assign-truck").value };
        const out = await api("POST", path, body);
        const booking = board.bookings.get(out.booking_id);
        if (booking) {
          booking.driver_id = out.driver_id;
          booking.truck_id = out.truck_id;
          if (ASSIGNABLE.has(booking.status)) booking.status = "assigned";
        }
        setDriverJob(out.driver_id, out.booking_id, "assigned");
        const why = out.score && out.score.deadhead_km != null
          ? ` (deadhead ${out.score.deadhead_km.toFixed(1)} km)` : "";
        result(`${out.method}: ${driverName(out.driver_id)} with ${truckName(out.truck_id)}${why}`, true);
        feed({ kind: "page.assigned", data: out });
        renderBookings();
        renderStats();
      } catch (error) {
        result(`${error.status || ""} ${error.message}`.trim(), false);
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    };
    $("assign-form").addEventListener("submit", (event) => { event.preventDefault(); assign(false); });
    $("assign-auto").addEventListener("click", () => assign(true));
  }

  function describe(event) {
    const data = event.data || {};
    const who = data.driver_id ? driverName(data.driver_id) : "";
    const booking = data.booking_id ? board.bookings.get(data.booking_id) : null;
    const where = booking ? short(booking.pickup && booking.pickup.address) : "";
    switch (event.kind) {
      case "booking.status":
        return `booking ${where} → ${String(data.to || data.status).replace("_", " ")}`;
      case "assignment.created":
        return `assigned ${where || "booking"} to ${who} (${truckName(data.truck_id)})` +
          (data.method ? ` · ${data.method}` : "");
      case "page.assigned": // this page's own request; the server's event follows
        return `you assigned ${where || "booking"} to ${who} (${truckName(data.truck_id)})`;
      case "assignment.removed": return `unassigned ${where || "booking"}`;
      case "driver.arrived": return `${who} arrived at ${data.stop || "stop"} · ${where}`;
      case "alert.offline": return `${who} went offline`;
      case "alert.late": return `${where || "a job"} is running late${who ? ` (${who})` : ""}`;
      case "error": return `server: ${data.detail || data.code || "error"}`;
      case "snapshot":
        return `snapshot: ${data.drivers} drivers, ${data.bookings} bookings (seq ${board.seq})`;
      default: return `${event.kind}${who ? " · " + who : ""}${where ? " · " + where : ""}`;
    }
  }

  function feed(event) {
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

  function renderStats() {
    let online = 0;
    for (const driver of board.drivers.values()) if (driver.online !== false) online += 1;
    let active = 0;
    for (const booking of board.bookings.values()) {
      if (!DONE.has(booking.status) && booking.driver_id) active += 1;
    }
    $("stat-online").textContent = online;
    $("stat-drivers").textContent = board.drivers.size;
    $("stat-jobs").textContent = active;
    $("stat-seq").textContent = board.seq === null ? "–" : board.seq;
  }

  function setStatus(status, detail) {
    board.status = status;
    const pill = $("conn");
    pill.dataset.state = status;
    pill.textContent = status + (detail ? `: ${detail}` : "");
  }

  function renderLegend() {
    const legend = $("legend");
    for (const status of LEGEND) {
      const item = document.createElement("li");
      item.style.setProperty("--swatch", COLORS[status]);
      item.textContent = status.replace("_", " ");
      legend.appendChild(item);
    }
  }

  // ---- start -----------------------------------------------------------------------------

  async function start() {
    board.token = tokenFromUrl();
    let me;
    try {
      me = await whoAmI();
    } catch (error) {
      setStatus("error", error.message);
      return;
    }
    if (!me) return showSignIn();
    if (!STAFF_ROLES.has(me.role)) {
      return showSignIn(`Signed in as ${me.full_name} (${me.role}): the board is for ` +
        "dispatchers and mover admins.");
    }
    board.me = me;
    $("who").textContent = `${me.full_name} · ${me.role.replace("_", " ")}`;
    $("sign-out").hidden = false;
    connect();
    loadNames();
  }

  async function boot() {
    renderLegend();
    wireSignIn();
    wireAssign();
    board.config = await fetch("/board/config.json")
      .then((r) => (r.ok ? r.json() : board.config)).catch(() => board.config);
    await start();
  }

  boot();
})();
