// Cell cards: the fitted trace with the fit, deconvolved activity and residual, per shown cell.
// The trace comes from the server with each solve: the raw window, or the bandpass-filtered
// one when the filter is on (what the fit was fitted to). Missing samples (NaN) are gaps.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { HoverReadout } from "./card-readout.js";
import { CardZoom } from "./card-zoom.js";

const COLORS = {
  raw: "#8d99a6",
  fit: "#e8590c",
  activity: "#1971c2",
  activityFill: "rgba(25,113,194,0.25)",
  residual: "#5c6b7a",
};
const SYNC_KEY = "calab-cards";
// Cards share the hover position only: a drag-select or double-click zooms one card (card-zoom.js).
const SYNCED_EVENTS = new Set(["mousemove", "mouseenter", "mouseleave"]);

function chartOptions(width, height, series, { xAxis = false, label = "" } = {}) {
  return {
    width,
    height,
    legend: { show: false },
    cursor: { sync: { key: SYNC_KEY, filters: { pub: (type) => SYNCED_EVENTS.has(type) } },
              drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false },
    scales: { x: { time: false }, y: { range: yRange } },
    padding: [9, 8, xAxis ? 0 : 7, 0],
    axes: [
      { show: xAxis, size: xAxis ? 28 : 0, stroke: "#6b7785", font: "11px system-ui",
        grid: { stroke: "#eef1f4" }, ticks: { stroke: "#dde2e7" }, space: 60,
        values: (u, vals) => vals.map((v) => formatSeconds(v)) },
      { size: 46, stroke: "#6b7785", font: "10px system-ui", grid: { stroke: "#eef1f4" },
        ticks: { show: false }, space: Math.max(18, Math.round(height / 3.2)), splits: ySplits,
        values: (u, vals) => vals.map((v) => formatTick(v)),
        label, labelSize: label ? 14 : 0, labelFont: "11px system-ui" },
    ],
    series: [{}, ...series],
  };
}

// y range of a card's plot over the samples in view; a flat stretch (no activity in a zoomed
// second) gets a unit-high range around it instead of uPlot's 0..100.
function yRange(u, min, max) {
  if (min === null || max === null) return [0, 1];
  if (max - min > 1e-9) {
    const pad = (max - min) * 0.05;
    return [min - pad, max + pad];
  }
  return [min - 0.5, max + 0.5];
}

// y ticks of a card's band: uPlot's choice when it gives two or more; otherwise (a short band,
// e.g. small cards or the residual) the largest round step giving two ticks at least
// MIN_TICK_GAP px apart, thinning a finer step if need be, and as a last resort the two ends
// of the range rounded inwards. So every band shows at least two labels that do not collide.
const MIN_TICK_GAP = 13;  // CSS px between label centres (10-px font)
const NICE_STEPS = [5, 2.5, 2, 1];

export function ySplits(u, axisIdx, min, max, foundIncr, foundSpace) {
  const range = max - min;
  const ticks = (incr) => {
    const out = [];
    const digits = Math.max(0, -Math.floor(Math.log10(incr)) + 2);
    for (let k = Math.ceil(min / incr - 1e-9); k * incr <= max + incr * 1e-9; k++) {
      const v = Number((k * incr).toFixed(Math.min(20, digits)));
      out.push(Object.is(v, -0) ? 0 : v);
    }
    return out;
  };
  if (!(range > 0) || !(foundIncr > 0) || !Number.isFinite(range)) return [min, max].filter(Number.isFinite);
  const found = ticks(foundIncr);
  if (found.length >= 2) return found;
  const dim = foundSpace * range / foundIncr;  // the band's height in CSS px
  let magnitude = 10 ** Math.floor(Math.log10(range));
  for (let tries = 0; tries < 2; tries++) {  // steps from range/10 up: at most 100 ticks
    for (const step of NICE_STEPS) {
      const incr = step * magnitude;
      if (incr >= foundIncr || incr > range) continue;
      const all = ticks(incr);
      const keep = Math.max(1, Math.ceil(MIN_TICK_GAP / (dim * incr / range)));
      const zero = all.indexOf(0);
      const offsets = [...Array(keep).keys()];
      if (zero >= 0) offsets.unshift(zero % keep);  // 0 among the labels when it can be
      for (const offset of offsets) {
        const thinned = all.filter((_, i) => i >= offset && (i - offset) % keep === 0);
        if (thinned.length >= 2) return thinned;
      }
    }
    magnitude /= 10;
  }
  const round = (v) => Number(v.toPrecision(2));
  return [round(min + 0.15 * range), round(max - 0.15 * range)];
}

// Tick labels: short, and no "-0".
function formatTick(v) {
  if (Math.abs(v) < 1e-9) return "0";
  const text = Math.abs(v) >= 1000 || Math.abs(v) < 0.01 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
  return text;
}

export function formatSeconds(v) {
  return `${Number(v.toPrecision(6))} s`;
}

// uPlot draws gaps for null, not for NaN.
function withGaps(values, hasGaps) {
  if (!hasGaps) return values;
  return Array.from(values, (v) => (Number.isFinite(v) ? v : null));
}

export class CellCard {
  constructor(cellIndex, snr, onFocus) {
    const row = cellIndex;
    this.cell = cellIndex;
    this.refreshes = 0;
    this.element = document.createElement("article");
    this.element.className = "card";
    this.element.dataset.testid = "cell-card";
    this.element.setAttribute("data-testid", "cell-card");
    this.element.dataset.cellIndex = String(cellIndex);
    this.element.dataset.row = String(row);
    this.element.innerHTML = `
      <header class="card-head">
        <button class="cell-name" title="Show this cell in the overview">Cell ${cellIndex}</button>
        <span class="metric" title="Robust signal-to-noise ratio">SNR <b class="snr">${Number.isFinite(snr) ? snr.toFixed(1) : "–"}</b></span>
        <span class="metric" title="Fit quality: 1 - var(residual)/var(trace)">R² <b class="r2">–</b></span>
        <span class="zoom-bar" role="group" aria-label="Zoom cell ${cellIndex}">
          <button type="button" data-testid="zoom-out" title="Zoom out (−)" aria-label="Zoom out">−</button>
          <button type="button" data-testid="zoom-in" title="Zoom in (+); or drag across a plot" aria-label="Zoom in">+</button>
          <button type="button" data-testid="zoom-reset" title="Show the whole window (0, or double-click a plot)"
                  aria-label="Reset zoom">⤢</button></span>
        <span class="state-badge"></span>
      </header>
      <p class="card-notice" data-testid="cell-notice" hidden></p>
      <div class="card-plots" tabindex="0" aria-label="Plots of cell ${cellIndex}: + and − zoom, arrows pan, 0 resets">
        <div class="hover-readout" data-testid="hover-readout" hidden></div>
        <div class="chart chart-trace"></div>
        <div class="chart chart-activity"></div>
        <div class="chart chart-residual"></div>
      </div>`;
    this.element.querySelector(".cell-name").addEventListener("click", () => onFocus(row));
    this.r2 = this.element.querySelector(".r2");
    this.badge = this.element.querySelector(".state-badge");
    this.notice = this.element.querySelector(".card-notice");
    this.snrBox = this.element.querySelector(".snr");
    this.plots = this.element.querySelector(".card-plots");
    this.readout = this.element.querySelector(".hover-readout");
    this.charts = null;
    this.setState("stale");
  }

  mount(width) {
    const w = Math.max(200, width);
    const slot = (name) => this.element.querySelector(name);
    this.charts = {
      trace: new uPlot(chartOptions(w, 120, [
        { label: "trace", stroke: COLORS.raw, width: 1 },
        { label: "fit", stroke: COLORS.fit, width: 1.5 },
      ], { label: "ΔF" }), [[], [], []], slot(".chart-trace")),
      activity: new uPlot(chartOptions(w, 64, [
        { label: "activity", stroke: COLORS.activity, fill: COLORS.activityFill, width: 1 },
      ], { label: "s" }), [[], []], slot(".chart-activity")),
      residual: new uPlot(chartOptions(w, 78, [
        { label: "residual", stroke: COLORS.residual, width: 1 },
      ], { xAxis: true, label: "res" }), [[], []], slot(".chart-residual")),
    };
    this.zoom = new CardZoom(this);
    this.hover = new HoverReadout(this);
  }

  resize(width) {
    if (!this.charts) return;
    for (const chart of Object.values(this.charts)) {
      chart.setSize({ width: Math.max(200, width), height: chart.height });
    }
  }

  setState(state) {
    this.state = state;
    this.element.dataset.state = state;
    this.badge.textContent = state;
  }

  // info: {r2, missing, longestGap, empty, filtered, snr}
  showSolution(x, trace, fit, activity, info) {
    const gaps = info.missing > 0;
    const residual = new Float32Array(fit.length);
    for (let i = 0; i < fit.length; i++) residual[i] = trace[i] - fit[i];
    this.charts.trace.setData([x, withGaps(trace, gaps), fit]);
    this.charts.activity.setData([x, activity]);
    this.charts.residual.setData([x, withGaps(residual, gaps)]);
    this.zoom.afterData();
    this.r2.textContent = info.r2.toFixed(2);
    if (Number.isFinite(info.snr) && this.snrBox.textContent === "–") this.snrBox.textContent = info.snr.toFixed(1);
    this.element.dataset.filtered = String(Boolean(info.filtered));
    this.setNotice(noticeText(info, x.length));
    this.refreshes += 1;
    this.element.dataset.refreshes = String(this.refreshes);
  }

  setNotice(text) {
    this.notice.hidden = !text;
    this.notice.textContent = text || "";
    this.element.dataset.missing = text ? "true" : "false";
  }

  destroy() {
    if (this.charts) Object.values(this.charts).forEach((c) => c.destroy());
    if (this.zoom) this.zoom.destroy();
    this.element.remove();
  }
}

function noticeText(info, length) {
  if (info.empty) return "No finite samples in this window (all NaN): nothing to fit here.";
  if (!info.missing) return "";
  const gap = info.longestGap >= 1 ? `${info.longestGap.toFixed(1)} s` : `${Math.round(info.longestGap * 1000)} ms`;
  return `${info.missing} of ${length} samples are missing (NaN; longest gap ${gap}). `
    + "They are bridged by straight lines for the fit and left blank in the plot.";
}

export class KernelPlot {
  constructor(target) {
    this.chart = new uPlot({
      width: Math.max(200, target.clientWidth || 260),
      height: 110,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false }, y: { range: [-0.05, 1.08] } },
      padding: [6, 8, 0, 0],
      axes: [
        { size: 24, stroke: "#6b7785", font: "10px system-ui", grid: { stroke: "#eef1f4" },
          values: (u, vals) => vals.map((v) => v + " s") },
        { size: 30, stroke: "#6b7785", font: "10px system-ui", grid: { stroke: "#eef1f4" } },
      ],
      series: [{}, { stroke: COLORS.fit, width: 2, fill: "rgba(232,89,12,0.08)" }],
    }, [[], []], target);
  }

  update(t, h) {
    this.chart.setData([Array.from(t), Array.from(h)]);
  }
}

export class Overview {
  constructor(target, onWindow) {
    this.onWindow = onWindow;
    this.target = target;
    this.chart = new uPlot({
      width: Math.max(300, target.clientWidth || 800),
      height: 90,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: { x: { time: false } },
      padding: [4, 8, 0, 0],
      axes: [
        { size: 24, stroke: "#6b7785", font: "10px system-ui", grid: { show: false },
          values: (u, vals) => vals.map((v) => formatSeconds(v)) },
        { size: 46, stroke: "#6b7785", font: "10px system-ui", grid: { stroke: "#eef1f4" },
          space: 24, values: (u, vals) => vals.map((v) => formatTick(v)) },
      ],
      series: [{}, { stroke: COLORS.raw, width: 1 }, { stroke: COLORS.raw, width: 1 }],
      bands: [{ series: [2, 1], fill: "rgba(141,153,166,0.35)" }],
      // uPlot commits new data and sizes after the call returns: re-apply the window then
      hooks: { setSelect: [(u) => this.selected(u)], setScale: [() => this.applyHighlight()],
               setSize: [() => this.applyHighlight()] },
    }, [[], []], target);
    this.chart.over.addEventListener("click", (event) => {
      if (this.dragged) return;
      const t = this.chart.posToVal(event.offsetX, "x");
      this.onWindow({ center: t });
    });
  }

  selected(u) {
    this.dragged = false;
    if (this.programmatic || u.select.width < 3) return;
    this.dragged = true;
    const t0 = u.posToVal(u.select.left, "x");
    const t1 = u.posToVal(u.select.left + u.select.width, "x");
    this.onWindow({ t0, t1 });
    setTimeout(() => { this.dragged = false; }, 0);
  }

  show(x, low, high) {
    this.chart.setData([x, low, high]);
  }

  highlight(t0, t1) {
    this.window = [t0, t1];
    this.applyHighlight();
  }

  applyHighlight() {
    const u = this.chart;
    if (!u || !this.window || !u.data || !u.data[0] || !u.data[0].length) return;
    const [t0, t1] = this.window;
    const left = u.valToPos(t0, "x");
    const right = u.valToPos(t1, "x");
    if (!Number.isFinite(left) || !Number.isFinite(right)) return;
    this.programmatic = true;
    u.setSelect({ left, width: Math.max(2, right - left), top: 0, height: u.bbox.height / devicePixelRatio }, false);
    this.programmatic = false;
  }

  resize(width) {
    this.chart.setSize({ width: Math.max(300, width), height: 90 });
  }
}
