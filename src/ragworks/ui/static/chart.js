// The last hour as inline SVG: finished jobs per minute as stacked bars (succeeded, dead) and the
// queue depth as a line, each on its own scale (labelled at the top).
const NS = "http://www.w3.org/2000/svg";
const W = 720, H = 180, PAD = { left: 8, right: 8, top: 18, bottom: 18 };

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

export function throughputChart(series) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
    "aria-label": "Queue depth and finished jobs per minute over the last hour", "data-test": "chart" });
  const n = Math.max(series.length, 1);
  const plotW = W - PAD.left - PAD.right, plotH = H - PAD.top - PAD.bottom;
  const step = plotW / n;
  const maxDone = Math.max(1, ...series.map((p) => p.succeeded + p.dead));
  const maxDepth = Math.max(1, ...series.map((p) => p.depth));
  const y = (value, max) => PAD.top + plotH - (value / max) * plotH;
  for (let i = 0; i <= 4; i++) {
    const gy = PAD.top + (plotH * i) / 4;
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: gy, y2: gy, stroke: "#eef0f3" }));
  }
  series.forEach((p, i) => {
    const x = PAD.left + i * step + step * 0.15, w = step * 0.7;
    const okTop = y(p.succeeded, maxDone), deadTop = y(p.succeeded + p.dead, maxDone);
    const title = `${new Date(p.start * 1000).toLocaleTimeString()}: ${p.succeeded} succeeded, ` +
      `${p.dead} dead, ${p.created} created, depth ${p.depth}`;
    const group = svg("g");
    group.append(svg("title", {}, title));
    group.append(svg("rect", { x, y: okTop, width: w, height: PAD.top + plotH - okTop, fill: "#86efac" }));
    group.append(svg("rect", { x, y: deadTop, width: w, height: okTop - deadTop, fill: "#fca5a5" }));
    root.append(group);
  });
  const points = series.map((p, i) => `${PAD.left + (i + 0.5) * step},${y(p.depth, maxDepth)}`).join(" ");
  root.append(svg("polyline", { points, fill: "none", stroke: "#2563eb", "stroke-width": 2,
    "vector-effect": "non-scaling-stroke" }));
  root.append(svg("text", { x: PAD.left, y: 12, fill: "#667085", "font-size": 11 },
    `max ${maxDone.toLocaleString()} finished / min`));
  root.append(svg("text", { x: W - PAD.right, y: 12, fill: "#2563eb", "font-size": 11, "text-anchor": "end" },
    `max depth ${maxDepth.toLocaleString()}`));
  root.append(svg("text", { x: PAD.left, y: H - 4, fill: "#667085", "font-size": 11 }, "60 min ago"));
  root.append(svg("text", { x: W - PAD.right, y: H - 4, fill: "#667085", "font-size": 11,
    "text-anchor": "end" }, "now"));
  return root;
}
