// Parameter model: log-scale sliders, kernel shape, undo history, CaTune export JSON.

import { peakFwhm } from "./kernel-shape.js";

export const SLIDER_STEPS = 1000;
export const RANGES = {
  riseMs: [1, 1000],
  decayMs: [10, 10000],
  lambda: [1e-3, 100],
};
export const DEFAULTS = { tauRise: 0.1, tauDecay: 0.6, lambda: 1.0, filter: false };

// Log-scale slider position (0..SLIDER_STEPS) <-> value.
export function sliderToLog(position, [lo, hi]) {
  const f = position / SLIDER_STEPS;
  return Math.exp(Math.log(lo) + f * (Math.log(hi) - Math.log(lo)));
}

export function logToSlider(value, [lo, hi]) {
  const clamped = Math.min(hi, Math.max(lo, value));
  return Math.round(((Math.log(clamped) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * SLIDER_STEPS);
}

// Lambda slider: position 0 is exactly 0, the rest is log-scale over RANGES.lambda.
export function sliderToLambda(position) {
  if (position <= 0) return 0;
  return sliderToLog(((position - 1) / (SLIDER_STEPS - 1)) * SLIDER_STEPS, RANGES.lambda);
}

export function lambdaToSlider(value) {
  if (!(value > 0)) return 0;
  return 1 + Math.round((logToSlider(value, RANGES.lambda) / SLIDER_STEPS) * (SLIDER_STEPS - 1));
}

// Round a slider-derived value to 3 significant digits so the number box stays readable.
export function tidy(value) {
  return value === 0 ? 0 : Number(value.toPrecision(3));
}

export function formatNumber(value, digits = 4) {
  return String(Number(value.toPrecision(digits)));
}

// The precision of the parameters, shown and sent alike: times to 0.1 ms, λ to 4 significant
// digits. setParams applies it to every change (typed, slider, suggestion, undo, pin, session,
// resumed export), so what the boxes show is exactly what the solver gets.
const TIME_STEP_S = 1e-4;
export const roundSeconds = (s) => Math.max(TIME_STEP_S, Math.round(s / TIME_STEP_S) * TIME_STEP_S);
export const roundLambda = (v) => (v === 0 ? 0 : Number(v.toPrecision(4)));

export function roundParams(p) {
  const time = (s) => Number(roundSeconds(s).toFixed(4));
  return { ...p, tauRise: time(p.tauRise), tauDecay: time(p.tauDecay), lambda: roundLambda(p.lambda) };
}

// A time in seconds as milliseconds to 0.1 ms ("45.9", "600").
export function formatMs(seconds) {
  return String(Math.round(seconds * 1e4) / 10);
}

// Continuous-time kernel exp(-t/td) - exp(-t/tr): peak time and FWHM (seconds).
export function kernelShape(tauRise, tauDecay) {
  const f = (t) => Math.exp(-t / tauDecay) - Math.exp(-t / tauRise);
  const peakTime = (Math.log(tauDecay / tauRise) * tauDecay * tauRise) / (tauDecay - tauRise);
  const half = f(peakTime) / 2;
  const cross = (lo, hi, rising) => {
    for (let i = 0; i < 80; i++) {
      const mid = (lo + hi) / 2;
      if ((f(mid) < half) === rising) lo = mid; else hi = mid;
    }
    return (lo + hi) / 2;
  };
  const before = cross(0, peakTime, true);
  const after = cross(peakTime, peakTime + 40 * tauDecay, false);
  return { peakTime, fwhm: after - before };
}

// Sampled, peak-normalised kernel for the preview plot: {t (s), h}.
export function sampledKernel(tauRise, tauDecay, fs) {
  const n = Math.max(2, Math.min(4000, Math.ceil(6 * tauDecay * fs)));
  const t = new Float64Array(n);
  const h = new Float64Array(n);
  let peak = 0;
  for (let i = 0; i < n; i++) {
    t[i] = i / fs;
    h[i] = Math.exp(-i / (fs * tauDecay)) - Math.exp(-i / (fs * tauRise));
    peak = Math.max(peak, h[i]);
  }
  for (let i = 0; i < n; i++) h[i] /= peak || 1;
  return { t, h };
}

// Undo history of committed parameter sets.
export class History {
  constructor(initial, limit = 200) {
    this.stack = [];
    this.current = { ...initial };
    this.limit = limit;
    this.redoStack = [];
  }
  commit(params) {
    if (sameParams(params, this.current)) return;
    this.stack.push(this.current);
    if (this.stack.length > this.limit) this.stack.shift();
    this.current = { ...params };
    this.redoStack = [];
  }
  undo() {
    if (!this.stack.length) return null;
    this.redoStack.push(this.current);
    this.current = this.stack.pop();
    return { ...this.current };
  }
  redo() {
    if (!this.redoStack.length) return null;
    this.stack.push(this.current);
    this.current = this.redoStack.pop();
    return { ...this.current };
  }
  get canUndo() { return this.stack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }
}

export function sameParams(a, b) {
  return a.tauRise === b.tauRise && a.tauDecay === b.tauDecay && a.lambda === b.lambda
    && a.filter === b.filter;
}

// CaTune export JSON, schema 1.2.0.
export function exportDocument(params, fs, meta = {}) {
  const dt = 1 / fs;
  const decayRoot = Math.exp(-dt / params.tauDecay);
  const riseRoot = Math.exp(-dt / params.tauRise);
  const shape = peakFwhm(params.tauRise, params.tauDecay);
  return {
    schema_version: "1.2.0",
    catune_version: meta.appVersion || "calab",
    export_date: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    parameters: {
      tau_rise_s: params.tauRise,
      tau_decay_s: params.tauDecay,
      lambda: params.lambda,
      sampling_rate_hz: fs,
      filter_enabled: params.filter,
      t_peak_s: shape.peakTime,
      fwhm_s: shape.fwhm,
    },
    ar2_coefficients: { g1: decayRoot + riseRoot, g2: -decayRoot * riseRoot, decayRoot, riseRoot, dt },
    formulation: { model: "FISTA with double-exponential kernel" },
    metadata: {
      source_filename: meta.source || "",
      num_cells: meta.numCells || 0,
      num_timepoints: meta.numTimepoints || 0,
    },
  };
}

export function downloadName(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `catune-params-${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}.json`;
}
