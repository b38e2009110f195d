// Extra curves and ticks drawn onto existing uPlot charts (pins, ground truth).

import { onDraw } from "./hooks.js";

const hooked = new WeakSet();

// Call painter(u, ctx) after every redraw of chart (installed once per chart and key).
export function addPainter(chart, key, painter) {
  chart._calabPainters = chart._calabPainters || new Map();
  chart._calabPainters.set(key, painter);
  if (hooked.has(chart)) return;
  hooked.add(chart);
  onDraw(chart, (u) => {
    for (const paint of u._calabPainters.values()) {
      u.ctx.save();
      const { left, top, width, height } = u.bbox;
      u.ctx.beginPath();
      u.ctx.rect(left, top, width, height);
      u.ctx.clip();
      try { paint(u, u.ctx); } finally { u.ctx.restore(); }
    }
  });
}

// A polyline of (xs[i], ys[i]) in data units; points outside the x scale are skipped.
export function strokeCurve(u, ctx, xs, ys, { color, width = 1.5, dash = [] }) {
  const { min, max } = u.scales.x;
  ctx.strokeStyle = color;
  ctx.lineWidth = width * devicePixelRatio;
  ctx.setLineDash(dash.map((d) => d * devicePixelRatio));
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (xs[i] < min || xs[i] > max || y === null || !Number.isFinite(y)) { pen = false; continue; }
    const px = u.valToPos(xs[i], "x", true);
    const py = u.valToPos(y, "y", true);
    if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    pen = true;
  }
  ctx.stroke();
}

// Short vertical ticks at times ts (s), with heights proportional to sizes (0..1 of the plot).
export function strokeTicks(u, ctx, ts, sizes, { color, width = 1.5 }) {
  const { min, max } = u.scales.x;
  const { top, height } = u.bbox;
  ctx.strokeStyle = color;
  ctx.lineWidth = width * devicePixelRatio;
  ctx.setLineDash([]);
  ctx.beginPath();
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] < min || ts[i] > max) continue;
    const px = u.valToPos(ts[i], "x", true);
    ctx.moveTo(px, top + height);
    ctx.lineTo(px, top + height * (1 - Math.min(1, sizes[i])));
  }
  ctx.stroke();
}
