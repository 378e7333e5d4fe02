// The tracking page: reads the booking id from the path and the signed link's token from
// ?t= (else the customer's cookie session), polls GET /api/v1/bookings/{id}/tracking every
// few seconds and draws the crew, its heading and the stops on a small projected map.

const POLL_MS = 3000;
const VIEW_W = 600,
  VIEW_H = 400,
  PAD = 40;
const SVG_NS = "http://www.w3.org/2000/svg";
const bookingId = location.pathname.split("/").filter(Boolean)[1] || "";
const token = new URLSearchParams(location.search).get("t");
const $ = (id) => document.getElementById(id);
let frame = null; // the projection, fitted once to the stops and the first position
let stopped = false;

function setText(id, text) {
  $(id).textContent = text;
}

function connection(state, text) {
  const pill = $("conn");
  pill.dataset.state = state;
  pill.textContent = text;
}

function fit(points) {
  // Equirectangular around the points' centre: fine at a city's scale.
  const lat0 = points.reduce((s, p) => s + p.lat, 0) / points.length;
  const k = Math.cos((lat0 * Math.PI) / 180);
  const xs = points.map((p) => p.lon * k),
    ys = points.map((p) => p.lat);
  const minX = Math.min(...xs),
    maxX = Math.max(...xs),
    minY = Math.min(...ys),
    maxY = Math.max(...ys);
  const span = Math.max(maxX - minX, maxY - minY, 0.002) * 1.25;
  const scale = Math.min(VIEW_W - 2 * PAD, VIEW_H - 2 * PAD) / span;
  const cx = (minX + maxX) / 2,
    cy = (minY + maxY) / 2;
  return (p) => [VIEW_W / 2 + (p.lon * k - cx) * scale, VIEW_H / 2 - (p.lat - cy) * scale];
}

function el(name, attrs) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function drawGrid() {
  const grid = $("grid");
  grid.replaceChildren();
  for (let x = 0; x <= VIEW_W; x += 50)
    grid.append(el("line", { x1: x, y1: 0, x2: x, y2: VIEW_H }));
  for (let y = 0; y <= VIEW_H; y += 50)
    grid.append(el("line", { x1: 0, y1: y, x2: VIEW_W, y2: y }));
}

function drawStops(stops) {
  const group = $("stops");
  group.replaceChildren();
  for (const [name, stop] of Object.entries(stops)) {
    const [x, y] = frame(stop);
    const g = el("g", {
      class: `stop ${name}`,
      transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
    });
    g.append(el("circle", { r: 8 }));
    const label = el("text", { x: 12, y: 4 });
    label.textContent = name === "pickup" ? "Pickup" : "Drop-off";
    g.append(label);
    group.append(g);
  }
}

function minutesText(eta) {
  if (!eta) return "–";
  return eta.minutes <= 1 ? "about 1 minute" : `about ${eta.minutes} minutes`;
}

function render(view) {
  if (!frame) {
    const points = [view.stops.pickup, view.stops.dropoff];
    if (view.position) points.push(view.position);
    frame = fit(points);
    drawGrid();
    drawStops(view.stops);
  }
  const label = view.status.replace(/_/g, " ");
  setText("status", label);
  setText(
    "eta",
    view.eta
      ? `${minutesText(view.eta)} (${view.eta.stop === "pickup" ? "pickup" : "drop-off"})`
      : "–",
  );
  setText("distance", view.eta ? `${(view.eta.distance_m / 1000).toFixed(1)} km` : "–");
  const crew = [view.crew.driver_name, view.crew.truck_plate].filter(Boolean).join(" · ");
  setText("crew", crew || "–");
  const marker = $("crew-marker");
  if (view.position) {
    const [x, y] = frame(view.position);
    const turn = view.position.heading == null ? 0 : view.position.heading;
    marker.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
    $("crew-heading").setAttribute("transform", `rotate(${turn})`);
    $("crew-heading").style.visibility = view.position.heading == null ? "hidden" : "visible";
    marker.setAttribute("visibility", "visible");
    marker.dataset.lat = String(view.position.lat);
    marker.dataset.lon = String(view.position.lon);
    const ago = Math.max(0, Math.round(Date.now() / 1000 - view.position.ts));
    setText("seen", ago < 5 ? "just now" : `${ago} s ago`);
    const route = $("route");
    if (view.heading_for) {
      const [sx, sy] = frame(view.stops[view.heading_for]);
      for (const [k, v] of Object.entries({ x1: x, y1: y, x2: sx, y2: sy }))
        route.setAttribute(k, v.toFixed(1));
      route.setAttribute("visibility", "visible");
    } else {
      route.setAttribute("visibility", "hidden");
    }
  }
  setText(
    "headline",
    view.heading_for === "pickup"
      ? view.eta
        ? `Your crew is ${minutesText(view.eta)} away`
        : "Your crew is on the way"
      : view.heading_for === "dropoff"
        ? "Your things are on their way to the new place"
        : `Your crew is ${label}`,
  );
  $("problem").hidden = true;
}

async function poll() {
  const query = token ? `?t=${encodeURIComponent(token)}` : "";
  try {
    const response = await fetch(
      `/api/v1/bookings/${encodeURIComponent(bookingId)}/tracking${query}`,
      { headers: { Accept: "application/json" }, credentials: "same-origin" },
    );
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = (body && (body.detail || body.title)) || `HTTP ${response.status}`;
      $("problem").textContent = detail;
      $("problem").hidden = false;
      connection("error", response.status === 409 ? "not under way" : "no access");
      // A refused link or a finished move will not change by asking again soon.
      if ([401, 403, 404].includes(response.status)) stopped = true;
      return;
    }
    render(body);
    connection("live", "live");
  } catch (error) {
    connection("error", "offline");
  }
}

async function loop() {
  while (!stopped) {
    await poll();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

loop();
