// Charts drawn as SVG by hand (no chart library, no CDN): a line chart for series over days
// and a horizontal bar chart for labelled values. Each chart says what it drew in data-*
// attributes (tests read them) and carries a <title> per mark for hover text.

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#2563eb", "#15803d", "#b45309", "#9333ea", "#0891b2", "#db2777"];

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

// Round-ish upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten.
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function frame(host, width, height, label) {
  host.replaceChildren();
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
    class: "chart",
  });
  host.append(root);
  return root;
}

// series: [{name, values: [numbers]}], labels: one x label per value.
/**
 * @param {HTMLElement} host
 * @param {{ labels: string[], series: { name: string, values: number[] }[],
 *   format?: (value: number) => string, label?: string }} options
 */
export function lineChart(host, { labels, series, format = String, label = "line chart" }) {
  const W = 640,
    H = 250,
    L = 52,
    R = 16,
    T = 14,
    B = 46;
  const root = frame(host, W, H, label);
  const top = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const n = Math.max(labels.length, 1);
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const axis = svg("g", { class: "axis" });
  for (let k = 0; k <= 4; k += 1) {
    const value = (top * k) / 4;
    axis.append(svg("line", { x1: L, x2: W - R, y1: y(value), y2: y(value), class: "gridline" }));
    axis.append(svg("text", { x: L - 6, y: y(value) + 4, "text-anchor": "end" }, format(value)));
  }
  const every = Math.max(1, Math.ceil(n / 8));
  labels.forEach((text, i) => {
    const lastFits = i === n - 1 && (n - 1) % every >= every * 0.75;
    if (i % every === 0 || lastFits) {
      axis.append(svg("text", { x: x(i), y: H - B + 18, "text-anchor": "middle" }, text));
    }
  });
  root.append(axis);
  series.forEach((s, index) => {
    const color = PALETTE[index % PALETTE.length];
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const group = svg("g", { class: "series", "data-series": s.name });
    group.append(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 2 }));
    s.values.forEach((v, i) => {
      const dot = svg("circle", { cx: x(i), cy: y(v), r: 3, fill: color, "data-value": v });
      dot.append(svg("title", {}, `${s.name} · ${labels[i]}: ${format(v)}`));
      group.append(dot);
    });
    root.append(group);
    const key = svg("text", { x: L + 8 + index * 170, y: H - 4, class: "key" }, `● ${s.name}`);
    key.style.fill = color; // over the stylesheet's text colour (CSSOM: no inline style)
    root.append(key);
  });
  host.dataset.points = String(labels.length);
  host.dataset.series = String(series.length);
  return root;
}

// items: [{label, value, color?}], drawn top to bottom.
/**
 * @param {HTMLElement} host
 * @param {{ items: { label: string, value: number, color?: string }[],
 *   format?: (value: number) => string, label?: string }} options
 */
export function barChart(host, { items, format = String, label = "bar chart" }) {
  const W = 640,
    ROW = 26,
    L = 150,
    R = 70,
    T = 6;
  const H = T * 2 + Math.max(items.length, 1) * ROW;
  const root = frame(host, W, H, label);
  const top = niceMax(Math.max(0, ...items.map((item) => item.value)));
  items.forEach((item, i) => {
    const y = T + i * ROW;
    const width = ((W - L - R) * item.value) / top;
    const group = svg("g", { class: "bar", "data-label": item.label, "data-value": item.value });
    group.append(svg("text", { x: L - 8, y: y + ROW / 2 + 4, "text-anchor": "end" }, item.label));
    const bar = svg("rect", {
      x: L,
      y: y + 4,
      width: Math.max(width, item.value > 0 ? 1 : 0),
      height: ROW - 8,
      rx: 3,
      fill: item.color || PALETTE[0],
    });
    bar.append(svg("title", {}, `${item.label}: ${format(item.value)}`));
    group.append(bar);
    group.append(
      svg("text", { x: L + width + 6, y: y + ROW / 2 + 4, class: "value" }, format(item.value)),
    );
    root.append(group);
  });
  if (!items.length) {
    root.append(
      svg(
        "text",
        { x: W / 2, y: H / 2 + 4, "text-anchor": "middle", class: "empty" },
        "no data in this range",
      ),
    );
  }
  host.dataset.points = String(items.length);
  return root;
}
