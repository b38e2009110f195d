// Kernel set as rise/decay time constants or as peak time/FWHM, with markers on the kernel plot.

import { on, onDraw } from "./hooks.js";
import { MAX_FWHM_PEAK_RATIO, MIN_FWHM_PEAK_RATIO, peakFwhm, tauFromPeakFwhm } from "./kernel-shape.js";
import { formatMs, formatNumber } from "./params.js";

const $ = (id) => document.getElementById(id);
const MODE_KEY = "calab.paramMode";

export function installKernelMode(app) {
  const select = $("param-mode");
  const applyMode = (mode) => {
    select.value = mode === "peak-fwhm" ? "peak-fwhm" : "rise-decay";
    document.body.dataset.paramMode = select.value;
    try { localStorage.setItem(MODE_KEY, select.value); } catch (_) { /* storage off */ }
  };
  let stored = null;
  try { stored = localStorage.getItem(MODE_KEY); } catch (_) { /* storage off */ }
  applyMode(stored || "rise-decay");
  select.addEventListener("change", () => applyMode(select.value));

  const shapeInput = (id, key) => $(id).addEventListener("change", (event) => {
    const value = Number(event.target.value);
    const p = app.state.params;
    const current = peakFwhm(p.tauRise, p.tauDecay);
    const shown = (seconds) => Number(formatMs(seconds)) / 1000;  // the other box's value as shown
    const wanted = { peakTime: shown(current.peakTime), fwhm: shown(current.fwhm), [key]: value / 1000 };
    try {
      if (event.target.value.trim() === "" || !Number.isFinite(value)) {
        throw new RangeError(`Not a number: "${event.target.value}"`);
      }
      const note = keepFeasible(wanted, key);
      const { tauRise, tauDecay } = tauFromPeakFwhm(wanted.peakTime, wanted.fwhm);
      app.setParams({ tauRise, tauDecay });
      if (note) app.toast(note);
    } catch (error) {
      app.toast(error.message, true);
      render(app.state.params);
    }
  });
  shapeInput("t-peak-ms", "peakTime");
  shapeInput("fwhm-ms", "fwhm");

  const markers = new KernelMarkers(app.kernelPlot.chart);
  function render(p) {
    const shape = peakFwhm(p.tauRise, p.tauDecay);
    if (document.activeElement !== $("t-peak-ms")) $("t-peak-ms").value = formatMs(shape.peakTime);
    if (document.activeElement !== $("fwhm-ms")) $("fwhm-ms").value = formatMs(shape.fwhm);
    markers.set(shape);
  }
  on("params", render);
  render(app.state.params);
  return { setMode: applyMode };
}

// Keep the edited value and move the other one into the range a double exponential allows
// (FWHM between 2.45 and 50,000 times the peak time), as rise is kept below decay.
function keepFeasible(wanted, edited) {
  if (!(wanted.peakTime > 0) || !(wanted.fwhm > 0)) return null;  // tauFromPeakFwhm says why
  const lo = MIN_FWHM_PEAK_RATIO * 1.01;
  const hi = MAX_FWHM_PEAK_RATIO * 0.99;
  const ratio = wanted.fwhm / wanted.peakTime;
  if (ratio >= lo && ratio <= hi) return null;
  const target = ratio < lo ? lo : hi;
  if (edited === "peakTime") {
    wanted.fwhm = wanted.peakTime * target;
    return `FWHM set to ${formatNumber(wanted.fwhm * 1000, 4)} ms: it must lie between 2.45 and 50,000 times the peak time.`;
  }
  wanted.peakTime = wanted.fwhm / target;
  return `Peak time set to ${formatNumber(wanted.peakTime * 1000, 4)} ms: the FWHM must lie between 2.45 and 50,000 times it.`;
}

// DOM markers over the kernel plot: a line at the peak time and a bar across the FWHM.
class KernelMarkers {
  constructor(chart) {
    this.chart = chart;
    this.peak = marker("kernel-marker peak", "kernel-peak-marker");
    this.width = marker("kernel-marker fwhm", "kernel-fwhm-marker");
    chart.over.append(this.peak, this.width);
    onDraw(chart, () => this.place());
  }

  set(shape) {
    this.shape = shape;
    this.peak.dataset.ms = formatNumber(shape.peakTime * 1000, 6);
    this.width.dataset.ms = formatNumber(shape.fwhm * 1000, 6);
    this.peak.title = `peak ${formatNumber(shape.peakTime * 1000, 3)} ms`;
    this.width.title = `FWHM ${formatNumber(shape.fwhm * 1000, 3)} ms`;
    this.place();
  }

  place() {
    const u = this.chart;
    if (!this.shape || !u.scales.x || u.scales.x.min == null) return;
    const x = (t) => u.valToPos(t, "x");
    this.peak.style.left = `${x(this.shape.peakTime)}px`;
    this.width.style.left = `${x(this.shape.before)}px`;
    this.width.style.width = `${Math.max(1, x(this.shape.after) - x(this.shape.before))}px`;
    this.width.style.top = `${u.valToPos(0.5, "y")}px`;
  }
}

function marker(className, testid) {
  const element = document.createElement("div");
  element.className = className;
  element.setAttribute("data-testid", testid);
  return element;
}
