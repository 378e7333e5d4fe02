// The map: the service area, drivers, trucks and bookings in SVG, projected with Web Mercator
// and fitted to the service area; optional raster tiles, else a kilometre grid.

import { colour, isKnown, IDLE, label, lifecycle, OFFLINE } from "./lifecycle.js";
import { $, board, truckName, VIEW_H, VIEW_W } from "./state.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const PAD = 0.06; // of the fitted frame, around the service area

// What a click on a booking's pin does (panels.js selects the booking; set by main.js).
/** @type {{ select: (bookingId: string) => unknown }} */
const actions = { select: () => {} };
/** @param {(bookingId: string) => unknown} select */
export function onPinClick(select) {
  actions.select = select;
}

// ---- projection ----------------------------------------------------------------------------

function mercator(lon, lat) {
  // Web Mercator on the unit square, y pointing down (like screen and tile coordinates).
  const clamped = Math.max(-85.05112878, Math.min(85.05112878, lat));
  const sin = Math.sin((clamped * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)];
}

function latOf(unitY) {
  const n = Math.PI - 2 * Math.PI * unitY;
  return (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
}

function areaRings(area) {
  if (!area || !area.coordinates) return [];
  if (area.type === "Polygon") return area.coordinates;
  if (area.type === "MultiPolygon") return area.coordinates.flat();
  if (area.type === "Feature") return areaRings(area.geometry);
  return [];
}

export function fitProjection() {
  let points = areaRings(board.org && board.org.service_area).flat();
  if (points.length === 0) {
    // No service area: fit whatever we can see.
    for (const d of board.drivers.values()) if (d.lat != null) points.push([d.lon, d.lat]);
    for (const b of board.bookings.values()) {
      if (b.pickup) points.push([b.pickup.lon, b.pickup.lat]);
      if (b.dropoff) points.push([b.dropoff.lon, b.dropoff.lat]);
    }
  }
  if (points.length === 0)
    points = [
      [13.3, 52.45],
      [13.5, 52.6],
    ];
  const xy = points.map(([lon, lat]) => mercator(lon, lat));
  let minX = Math.min(...xy.map((p) => p[0]));
  let maxX = Math.max(...xy.map((p) => p[0]));
  let minY = Math.min(...xy.map((p) => p[1]));
  let maxY = Math.max(...xy.map((p) => p[1]));
  const spanX = Math.max(maxX - minX, 1e-7);
  const spanY = Math.max(maxY - minY, 1e-7);
  minX -= spanX * PAD;
  maxX += spanX * PAD;
  minY -= spanY * PAD;
  maxY += spanY * PAD;
  const scale = Math.min(VIEW_W / (maxX - minX), VIEW_H / (maxY - minY));
  const offsetX = (VIEW_W - (maxX - minX) * scale) / 2 - minX * scale;
  const offsetY = (VIEW_H - (maxY - minY) * scale) / 2 - minY * scale;
  return {
    scale,
    offsetX,
    offsetY,
    project(lon, lat) {
      const [x, y] = mercator(lon, lat);
      return { x: x * scale + offsetX, y: y * scale + offsetY };
    },
    unit(px, py) {
      return [(px - offsetX) / scale, (py - offsetY) / scale];
    },
  };
}

// ---- drawing -------------------------------------------------------------------------------

/** @returns {SVGElement} */
function svg(tag, attributes = {}, parent = null) {
  const node = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

export function clear(id) {
  const layer = $(id);
  while (layer.firstChild) layer.removeChild(layer.firstChild);
  return layer;
}

export function drawTiles() {
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
      const href = template
        .replace("{z}", String(zoom))
        .replace("{x}", String(x))
        .replace("{y}", String(y));
      svg(
        "image",
        {
          href,
          x: x * size + projection.offsetX,
          y: y * size + projection.offsetY,
          width: size,
          height: size,
          preserveAspectRatio: "none",
          opacity: 0.85,
        },
        layer,
      );
    }
  }
}

export function drawGrid() {
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

export function drawArea() {
  const layer = clear("layer-area");
  const rings = areaRings(board.org && board.org.service_area);
  if (!board.projection || rings.length === 0) return;
  const d = rings
    .map(
      (ring) =>
        ring
          .map(([lon, lat], i) => {
            const p = board.projection.project(lon, lat);
            return `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`;
          })
          .join("") + "Z",
    )
    .join("");
  svg("path", { class: "area", d, "fill-rule": "evenodd", "data-area": "service" }, layer);
}

// ---- drivers -------------------------------------------------------------------------------

export function driverStatus(driver) {
  // The server's own word (snapshot, tick) first: the job status, or idle.
  if (driver.online === false) return OFFLINE;
  if (driver.status && isKnown(driver.status) && !lifecycle.done.has(driver.status)) {
    return driver.status;
  }
  if (driver.job && driver.job.status) return driver.job.status;
  return IDLE;
}

/** @returns {SVGElement | null} */
export function driverMarker(id) {
  return $("layer-drivers").querySelector(`[data-driver-id="${CSS.escape(String(id))}"]`);
}

function initials(name) {
  return (name || "?")
    .split(/\s+/)
    .map((part) => part[0] || "")
    .join("")
    .slice(0, 3)
    .toUpperCase();
}

export function drawDriver(driver) {
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
  marker.querySelector("circle").setAttribute("fill", colour(status));
  const heading = /** @type {SVGElement} */ (marker.querySelector(".heading"));
  heading.style.display = driver.heading == null ? "none" : "";
  heading.setAttribute("transform", `rotate(${Number(driver.heading) || 0})`);
  placeLabel(marker.querySelector("text"), driver.heading);
  marker.querySelector("text").textContent = initials(name);
  const speed = driver.speed == null ? "" : ` · ${(driver.speed * 3.6).toFixed(0)} km/h`;
  marker.querySelector("title").textContent = `${name} — ${label(status)}${speed}`;
}

function placeLabel(text, heading) {
  // Behind the marker, opposite its heading arrow (beside it when the heading is unknown).
  if (heading == null) {
    text.setAttribute("x", 10);
    text.setAttribute("y", 4);
    text.style.textAnchor = "start";
    return;
  }
  const radians = (Number(heading) * Math.PI) / 180;
  const dx = -Math.sin(radians);
  const dy = Math.cos(radians);
  text.setAttribute("x", (dx * 11).toFixed(1));
  text.setAttribute("y", (dy * 13 + 4).toFixed(1));
  text.style.textAnchor = dx > 0.35 ? "start" : dx < -0.35 ? "end" : "middle";
}

// The driver's marker follows its job: the job's status while it is active, idle after.
export function setDriverJob(driverId, bookingId, status) {
  const driver = driverId ? board.drivers.get(driverId) : null;
  if (!driver) return;
  const active =
    bookingId && status && !lifecycle.done.has(status) && !lifecycle.released.has(status);
  driver.job = active ? { booking_id: bookingId, status } : null;
  driver.status = active ? status : IDLE;
  drawDriver(driver);
}

// ---- bookings and trucks -------------------------------------------------------------------

function pin(layer, booking, stop, point) {
  const p = board.projection.project(point.lon, point.lat);
  const group = svg(
    "g",
    {
      class: `pin ${stop}${board.selected === booking.id ? " selected" : ""}`,
      "data-booking-id": booking.id,
      "data-stop": stop,
      transform: `translate(${p.x.toFixed(2)} ${p.y.toFixed(2)})`,
    },
    layer,
  );
  svg("path", { d: "M0,0 C-3,-6 -8,-9 -8,-14 A8,8 0 1 1 8,-14 C8,-9 3,-6 0,0 Z" }, group);
  svg("text", { y: -11 }, group).textContent = stop === "pickup" ? "P" : "D";
  svg("title", {}, group).textContent = `${stop}: ${point.address || ""} (${booking.status})`;
  group.addEventListener("click", () => actions.select(booking.id));
  return p;
}

export function drawBookings() {
  const routes = clear("layer-routes");
  const pins = clear("layer-pins");
  if (!board.projection) return;
  for (const booking of board.bookings.values()) {
    if (lifecycle.done.has(booking.status) || !booking.pickup || !booking.dropoff) continue;
    const a = board.projection.project(booking.pickup.lon, booking.pickup.lat);
    const b = board.projection.project(booking.dropoff.lon, booking.dropoff.lat);
    svg(
      "line",
      {
        class: `route-line${board.selected === booking.id ? " selected" : ""}`,
        x1: a.x,
        y1: a.y,
        x2: b.x,
        y2: b.y,
        "data-booking-id": booking.id,
      },
      routes,
    );
    pin(pins, booking, "pickup", booking.pickup);
    pin(pins, booking, "dropoff", booking.dropoff);
  }
}

function truckPosition(truck, index) {
  if (truck.lat != null && truck.lon != null) return { lat: truck.lat, lon: truck.lon, dx: 0 };
  // A truck on a job under way travels with its driver.
  for (const booking of board.bookings.values()) {
    if (booking.truck_id !== truck.id || lifecycle.done.has(booking.status)) continue;
    const driver = board.drivers.get(booking.driver_id);
    if (driver && driver.lat != null && booking.status !== lifecycle.assigned) {
      return { lat: driver.lat, lon: driver.lon, dx: 10 };
    }
  }
  const home = board.homes.get(truck.id);
  if (home) return { lat: home.lat, lon: home.lon, dx: (index % 6) * 13 - 32 };
  return null;
}

export function drawTrucks() {
  const layer = clear("layer-trucks");
  if (!board.projection) return;
  let index = 0;
  for (const truck of board.trucks.values()) {
    const where = truckPosition(truck, index);
    index += 1;
    if (!where) continue;
    const p = board.projection.project(where.lon, where.lat);
    const group = svg(
      "g",
      {
        class: "truck",
        "data-truck-id": truck.id,
        transform: `translate(${(p.x + where.dx).toFixed(2)} ${(p.y + 12).toFixed(2)})`,
      },
      layer,
    );
    svg("rect", { x: -6, y: -4, width: 12, height: 8, rx: 1.5 }, group);
    svg("title", {}, group).textContent = `truck ${truckName(truck.id)}`;
  }
}
