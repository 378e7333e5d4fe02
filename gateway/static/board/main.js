// The live fleet board: signs in (cookie session or ?token=), follows /ws/board
// (snapshot, sequenced events, coalesced position ticks; see docs/realtime-protocol.md)
// and draws the org's service area, drivers, trucks and bookings in SVG, projected with
// Web Mercator and fitted to the service area. No build step, no CDN, no tiles by default.
//
// The modules: state (what the page knows, window.__board), lifecycle (the status vocabulary
// from the API), api (REST), socket (/ws/board), map (SVG), panels (jobs, assignment, feed),
// signin (the one-time-code form). This one starts them in order.

import { loadConfig, loadList, tokenFromUrl, whoAmI } from "./api.js";
import { lifecycle, loadLifecycle } from "./lifecycle.js";
import { onPinClick } from "./map.js";
import { feed, renderAll, renderLegend, select, wireAssign } from "./panels.js";
import { showSignIn, wireSignIn } from "./signin.js";
import { connect, receive } from "./socket.js";
import { $, board, setStatus } from "./state.js";

const STAFF_ROLES = new Set(["mover_admin", "dispatcher", "platform_admin"]);

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
    return showSignIn(
      `Signed in as ${me.full_name} (${me.role}): the board is for ` +
        "dispatchers and mover admins.",
    );
  }
  board.me = me;
  // Links for some roles only (the verification queue is the platform admins').
  for (const link of /** @type {NodeListOf<HTMLAnchorElement>} */ (
    document.querySelectorAll("nav.nav a[data-roles]")
  )) {
    link.hidden = !(link.dataset.roles || "").split(" ").includes(me.role);
  }
  $("who").textContent = `${me.full_name} · ${me.role.replace("_", " ")}`;
  $("sign-out").hidden = false;
  connect();
  loadNames();
}

async function boot() {
  board.receive = receive;
  board.lifecycle = lifecycle; // what the page derived from the API (tests, the console)
  onPinClick(select);
  wireSignIn(start);
  wireAssign();
  const config = loadConfig(board.config);
  // The vocabulary comes before anything is drawn (the legend, the first snapshot).
  try {
    await loadLifecycle();
  } catch (error) {
    setStatus("error", error.message);
    return;
  }
  renderLegend();
  board.config = await config;
  await start();
}

boot();
