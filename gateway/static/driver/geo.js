// Location while on duty: navigator.geolocation.watchPosition keeps the latest fix; every
// `ping_interval_s` (from hello) one ping with the device time is queued (outbox.js) and sent.

import { enqueue, pingFrame } from "./link.js";
import { app, setDuty } from "./state.js";
import { renderDuty, renderMap } from "./view.js";

let watch = null;
let timer = null;

function onFix(position) {
  const c = position.coords;
  app.fix = {
    lat: c.latitude,
    lon: c.longitude,
    heading: c.heading,
    speed: c.speed,
    accuracy: c.accuracy,
    at: position.timestamp,
  };
  renderDuty();
  renderMap();
}

function onError(error) {
  document.getElementById("gps").textContent = `location unavailable: ${error.message}`;
}

async function tick() {
  if (!app.onDuty || !app.fix || !app.me) return;
  const frame = pingFrame(Date.now() / 1000);
  app.track.push({ lat: frame.lat, lon: frame.lon, ts: frame.ts, queued: !app.live });
  if (app.track.length > 500) app.track.shift();
  await enqueue(frame);
  renderMap();
}

function schedule() {
  clearInterval(timer);
  timer = setInterval(tick, app.pingIntervalS * 1000);
}

export function startDuty() {
  setDuty(true);
  if (watch === null && navigator.geolocation) {
    watch = navigator.geolocation.watchPosition(onFix, onError, {
      enableHighAccuracy: true,
      maximumAge: 0,
    });
  }
  schedule();
  renderDuty();
}

export function stopDuty() {
  setDuty(false);
  if (watch !== null) navigator.geolocation.clearWatch(watch);
  watch = null;
  clearInterval(timer);
  timer = null;
  renderDuty();
}

// hello may change the rate: keep the timer in step with it.
export function followRate() {
  if (timer !== null) schedule();
}
