// CaTune web app (calab): parameters, cell cards, real-time solving through the bridge.

import { Bridge } from "./bridge.js";
import { CellCard, KernelPlot, Overview } from "./cards.js";
import { setupDrop } from "./drop.js";
import { installFeatures } from "./features.js";
import { emit } from "./hooks.js";
import * as P from "./params.js";

const $ = (id) => document.getElementById(id);
const HEARTBEAT_MS = 3000;
const MAX_WINDOW_SAMPLES = 20000;  // the server's limit per solve (bridge_solve.MAX_WINDOW_SAMPLES)

const state = {
  params: { ...P.DEFAULTS },
  history: new P.History(P.DEFAULTS),
  data: null,
  selected: [],
  sort: "snr",
  perPage: 6,
  page: 0,
  focusRow: null,
  windowSeconds: 60,
  windowStart: 0,
  cards: new Map(),
  requestId: 0,
  pendingFrame: 0,
};
const bridge = Bridge.fromLocation(window.location);
let kernelPlot = null;
let overview = null;

// ---------------------------------------------------------------- messages
let toastTimer = 0;
function toast(message, isError = false) {
  const box = $("toast");
  box.textContent = message;
  box.classList.toggle("error", isError);
  box.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("show"), isError ? 7000 : 3500);
}

// ---------------------------------------------------------------- parameters
function renderParams() {
  const p = state.params;
  $("tau-rise-ms").value = P.formatNumber(p.tauRise * 1000, 6);
  $("tau-decay-ms").value = P.formatNumber(p.tauDecay * 1000, 6);
  $("lambda").value = P.formatNumber(p.lambda, 6);
  $("filter-enabled").checked = p.filter;
  $("tau-rise-slider").value = P.logToSlider(p.tauRise * 1000, P.RANGES.riseMs);
  $("tau-decay-slider").value = P.logToSlider(p.tauDecay * 1000, P.RANGES.decayMs);
  $("lambda-slider").value = P.lambdaToSlider(p.lambda);
  const shape = P.kernelShape(p.tauRise, p.tauDecay);
  $("kernel-peak").textContent = `${P.formatNumber(shape.peakTime * 1000, 3)} ms`;
  $("kernel-fwhm").textContent = `${P.formatNumber(shape.fwhm * 1000, 3)} ms`;
  const kernel = P.sampledKernel(p.tauRise, p.tauDecay, state.data ? state.data.fs : 30);
  if (kernelPlot) kernelPlot.update(kernel.t, kernel.h);
  $("undo").disabled = !state.history.canUndo;
  $("redo").disabled = !state.history.canRedo;
  emit("params", state.params);
}

// Apply a change; `edited` names the time constant the user moved (kept below/above the other).
function setParams(change, { commit = true, edited = null } = {}) {
  const next = { ...state.params, ...change };
  if (!(next.tauRise > 0) || !(next.tauDecay > 0) || !(next.lambda >= 0)) {
    toast("Times must be > 0 ms and λ must be ≥ 0.", true);
    renderParams();
    return;
  }
  if (next.tauRise >= next.tauDecay) {
    if (edited === "rise") next.tauRise = P.tidy(next.tauDecay * 0.9);
    else next.tauDecay = P.tidy(next.tauRise / 0.9);
    toast("Rise time is kept below decay time.");
  }
  const changed = !P.sameParams(next, state.params);
  state.params = next;
  if (commit) state.history.commit(next);
  renderParams();
  if (changed) requestSolve(commit);
}

function bindParamInputs() {
  const number = (id, key, scale, edited) => $(id).addEventListener("change", (event) => {
    const value = Number(event.target.value);
    if (event.target.value.trim() === "" || !Number.isFinite(value)) {
      toast(`Not a number: "${event.target.value}"`, true);
      renderParams();
      return;
    }
    setParams({ [key]: value / scale }, { edited });
  });
  number("tau-rise-ms", "tauRise", 1000, "rise");
  number("tau-decay-ms", "tauDecay", 1000, "decay");
  number("lambda", "lambda", 1, null);
  const slider = (id, toValue, edited) => {
    const apply = (commit) => (event) => setParams(toValue(Number(event.target.value)), { commit, edited });
    $(id).addEventListener("input", apply(false));
    $(id).addEventListener("change", apply(true));
  };
  slider("tau-rise-slider", (v) => ({ tauRise: P.tidy(P.sliderToLog(v, P.RANGES.riseMs)) / 1000 }), "rise");
  slider("tau-decay-slider", (v) => ({ tauDecay: P.tidy(P.sliderToLog(v, P.RANGES.decayMs)) / 1000 }), "decay");
  slider("lambda-slider", (v) => ({ lambda: P.tidy(P.sliderToLambda(v)) }), null);
  $("filter-enabled").addEventListener("change", (event) => setParams({ filter: event.target.checked }));
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
}

function undo() { restoreFromHistory(state.history.undo()); }
function redo() { restoreFromHistory(state.history.redo()); }

function restoreFromHistory(params) {
  if (!params) return;
  state.params = params;
  renderParams();
  requestSolve(true);
}

function bindKeyboard() {
  document.addEventListener("keydown", (event) => {
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && (key === "z" || key === "y")) {
      if (event.target.tagName !== "INPUT") {
        event.preventDefault();
        if (key === "y" || event.shiftKey) redo(); else undo();
      }
      return;
    }
    if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
    const p = state.params;
    const step = 1.05;
    const nudges = {
      ArrowRight: event.shiftKey ? { tauRise: p.tauRise * step } : { tauDecay: p.tauDecay * step },
      ArrowLeft: event.shiftKey ? { tauRise: p.tauRise / step } : { tauDecay: p.tauDecay / step },
      ArrowUp: { lambda: p.lambda > 0 ? p.lambda * 1.1 : 0.01 },
      ArrowDown: { lambda: p.lambda > 0.0011 ? p.lambda / 1.1 : 0 },
    };
    if (event.key.toLowerCase() === "f") { setParams({ filter: !p.filter }); return; }
    const change = nudges[event.key];
    if (!change) return;
    event.preventDefault();
    for (const k of Object.keys(change)) {
      change[k] = k === "lambda" ? P.tidy(change[k]) : P.tidy(change[k] * 1000) / 1000;
    }
    setParams(change, { edited: "tauRise" in change ? "rise" : "decay" });
  });
}

// Set all three parameters at once (a snapshot, a resumed export, a suggestion) as one undo step.
function applyParams({ tauRise, tauDecay, lambda, filter }) {
  const change = { tauRise, tauDecay, lambda };
  if (filter !== undefined) change.filter = filter;
  setParams(change, { edited: "decay" });
}

// ---------------------------------------------------------------- cells and window
function orderedRows() {
  const d = state.data;
  const rows = [];
  for (let r = 0; r < d.nCells; r++) if (state.selected[r]) rows.push(r);
  if (state.sort === "snr") rows.sort((a, b) => d.snr[b] - d.snr[a] || a - b);
  else rows.sort((a, b) => d.cellIndices[a] - d.cellIndices[b]);
  return rows;
}

function visibleRows() {
  const rows = orderedRows();
  const pages = Math.max(1, Math.ceil(rows.length / state.perPage));
  state.page = Math.min(state.page, pages - 1);
  $("page-info").textContent = rows.length
    ? `page ${state.page + 1} of ${pages} · ${rows.length} cells` : "no cells selected";
  return rows.slice(state.page * state.perPage, (state.page + 1) * state.perPage);
}

function windowBounds() {
  const d = state.data;
  const wanted = Math.max(8, Math.round(state.windowSeconds * d.fs));
  const length = Math.min(d.nTime, MAX_WINDOW_SAMPLES, wanted);
  const start = Math.min(Math.max(0, state.windowStart), d.nTime - length);
  state.windowStart = start;
  return [start, start + length];
}

function timeAxis(start, stop) {
  const d = state.data;
  const x = new Float64Array(stop - start);
  for (let i = 0; i < x.length; i++) x[i] = (d.start + start + i) / d.fs;
  return x;
}

function renderChips() {
  const box = $("cell-chips");
  box.innerHTML = "";
  const d = state.data;
  const order = [...Array(d.nCells).keys()].sort((a, b) => d.cellIndices[a] - d.cellIndices[b]);
  for (const r of order) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip" + (state.selected[r] ? " on" : "");
    chip.textContent = d.cellIndices[r];
    chip.title = `cell ${d.cellIndices[r]} · SNR ${d.snr[r].toFixed(1)}`;
    chip.addEventListener("click", () => {
      state.selected[r] = !state.selected[r];
      chip.classList.toggle("on", state.selected[r]);
      rebuildGrid();
    });
    box.appendChild(chip);
  }
}

function cardWidth() {
  const first = $("grid").querySelector(".card");
  return first ? first.clientWidth - 20 : 400;
}

function rebuildGrid() {
  const rows = visibleRows();
  const keep = new Set(rows);
  for (const [row, card] of state.cards) {
    if (!keep.has(row)) { card.destroy(); state.cards.delete(row); }
  }
  const grid = $("grid");
  grid.dataset.count = String(rows.length);
  for (const row of rows) {
    if (!state.cards.has(row)) {
      const d = state.data;
      state.cards.set(row, new CellCard(row, d.cellIndices[row], d.snr[row], focusCell));
    }
    grid.appendChild(state.cards.get(row).element);
  }
  const width = cardWidth();
  const [start, stop] = windowBounds();
  const x = timeAxis(start, stop);
  for (const row of rows) {
    const card = state.cards.get(row);
    if (!card.charts) card.mount(width);
    card.showRaw(x, state.data.rows[row].subarray(start, stop));
  }
  if (state.focusRow === null || !keep.has(state.focusRow)) focusCell(rows[0] ?? null);
  else updateOverviewWindow();
  requestSolve(true);
}

function focusCell(row) {
  state.focusRow = row;
  for (const [r, card] of state.cards) card.element.classList.toggle("focused", r === row);
  if (row === null || !overview) return;
  const d = state.data;
  const stride = Math.max(1, Math.floor(d.nTime / 6000));
  const n = Math.ceil(d.nTime / stride);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) { x[i] = (d.start + i * stride) / d.fs; y[i] = d.rows[row][i * stride]; }
  overview.show(x, y);
  $("overview-title").textContent = `Overview · cell ${d.cellIndices[row]}`;
  updateOverviewWindow();
}

function updateOverviewWindow() {
  if (!overview || !state.data) return;
  const [start, stop] = windowBounds();
  const d = state.data;
  overview.highlight((d.start + start) / d.fs, (d.start + stop - 1) / d.fs);
}

function moveWindow({ center, t0, t1 }) {
  const d = state.data;
  if (!d) return;
  if (t0 !== undefined) {
    state.windowSeconds = Math.max(1, t1 - t0);
    state.windowStart = Math.round(t0 * d.fs) - d.start;
    $("window-length").value = "";
  } else {
    const length = Math.round(state.windowSeconds * d.fs);
    state.windowStart = Math.round(center * d.fs) - d.start - Math.floor(length / 2);
  }
  rebuildGrid();
}

function bindCellControls() {
  $("sort-cells").addEventListener("change", (e) => { state.sort = e.target.value; state.page = 0; rebuildGrid(); });
  $("per-page").addEventListener("change", (e) => { state.perPage = Number(e.target.value); state.page = 0; rebuildGrid(); });
  $("page-prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); rebuildGrid(); });
  $("page-next").addEventListener("click", () => { state.page += 1; rebuildGrid(); });
  const selectAll = (value) => { state.selected.fill(value); renderChips(); rebuildGrid(); };
  $("cells-all").addEventListener("click", () => selectAll(true));
  $("cells-none").addEventListener("click", () => selectAll(false));
  $("window-length").addEventListener("change", (e) => {
    if (!e.target.value || !state.data) return;
    const [start, stop] = windowBounds();
    const center = (state.data.start + (start + stop) / 2) / state.data.fs;
    state.windowSeconds = Number(e.target.value);
    moveWindow({ center });
  });
  const pan = (direction) => {
    if (!state.data) return;
    const [start, stop] = windowBounds();
    state.windowStart = start + direction * Math.round((stop - start) * 0.8);
    rebuildGrid();
  };
  $("window-prev").addEventListener("click", () => pan(-1));
  $("window-next").addEventListener("click", () => pan(1));
  new ResizeObserver(() => {
    const width = cardWidth();
    for (const card of state.cards.values()) card.resize(width);
    if (overview) overview.resize($("overview-plot").clientWidth);
    updateOverviewWindow();
  }).observe($("grid"));
}

// ---------------------------------------------------------------- solving
function requestSolve(immediate) {
  if (!state.data || !bridge) return;
  for (const card of state.cards.values()) card.setState("stale");
  if (immediate) { cancelAnimationFrame(state.pendingFrame); solveVisible(); return; }
  cancelAnimationFrame(state.pendingFrame);
  state.pendingFrame = requestAnimationFrame(solveVisible);
}

async function solveVisible() {
  const rows = [...state.cards.keys()];
  if (!rows.length) return;
  const [start, stop] = windowBounds();
  const p = state.params;
  const id = ++state.requestId;
  const request = {
    request_id: id, tau_rise: p.tauRise, tau_decay: p.tauDecay, lambda: p.lambda,
    filter_enabled: p.filter, rows, start, stop,
  };
  for (const card of state.cards.values()) card.setState("solving");
  let result;
  try {
    result = await bridge.solve(request);
  } catch (error) {
    if (id === state.requestId) {
      for (const card of state.cards.values()) card.setState("stale");
      toast(`Solve failed: ${error.message}`, true);
    }
    return;
  }
  if (!result || id !== state.requestId) return;  // superseded by a newer request
  const [fits, activities] = result.arrays;
  result.header.rows.forEach((row, k) => {
    const card = state.cards.get(row);
    if (!card) return;
    card.showSolution(fits[k], activities[k], result.header.r2[k]);
    card.setState("fresh");
  });
  window.calab.lastSolveMs = result.header.solve_ms;
}

// ---------------------------------------------------------------- data
async function loadData() {
  const [metadata, traces] = await Promise.all([bridge.metadata(), bridge.traces()]);
  for (const card of state.cards.values()) card.destroy();
  state.cards.clear();
  state.data = {
    rows: traces.rows, nCells: traces.shape[0], nTime: traces.shape[1],
    fs: metadata.sampling_rate_hz, cellIndices: metadata.cell_indices, snr: metadata.snr,
    start: metadata.start_sample || 0, source: metadata.source || "",
    totalCells: metadata.total_cells || traces.shape[0],
    totalTime: metadata.total_timepoints || traces.shape[1],
  };
  state.selected = new Array(state.data.nCells).fill(true);
  state.windowStart = 0;
  state.focusRow = null;
  const d = state.data;
  const subset = d.nCells < d.totalCells || d.nTime < d.totalTime
    ? ` · showing ${d.nCells} cells, ${(d.nTime / d.fs / 60).toFixed(1)} min` : "";
  $("dataset-info").textContent =
    `${d.source} · ${d.totalCells} cells × ${d.totalTime} samples @ ${d.fs} Hz${subset}`;
  document.body.classList.add("has-data");
  $("overview-box").hidden = false;
  if (!overview) overview = new Overview($("overview-plot"), moveWindow);
  renderChips();
  renderParams();
  emit("data", state.data);
  rebuildGrid();
}

// ---------------------------------------------------------------- export
function currentExport() {
  const d = state.data;
  return P.exportDocument(state.params, d ? d.fs : 30, {
    source: d ? d.source : "", numCells: d ? d.totalCells : 0, numTimepoints: d ? d.totalTime : 0,
  });
}

function bindExport() {
  $("export-python").addEventListener("click", async () => {
    if (!bridge) { toast("Not connected to Python; use Download instead.", true); return; }
    try {
      await bridge.sendParams(currentExport());
      document.body.dataset.exported = "true";
      toast("Parameters sent to Python. You can close this tab.");
    } catch (error) {
      toast(`Export failed: ${error.message}`, true);
    }
  });
  $("export-download").addEventListener("click", () => {
    const blob = new Blob([JSON.stringify(currentExport(), null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = P.downloadName();
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
}

// ---------------------------------------------------------------- connection
function setConnected(connected, text) {
  const box = $("connection");
  box.dataset.connected = String(connected);
  box.querySelector(".text").textContent = text;
}

function startHeartbeat() {
  const report = (ok) => setConnected(ok, ok ? "connected to calab" : "calab server unreachable");
  try {
    const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), { type: "module" });
    worker.onmessage = (event) => report(event.data.ok);
    worker.postMessage({ url: `${bridge.baseUrl}/api/v1/heartbeat`, secret: bridge.secret, intervalMs: HEARTBEAT_MS });
  } catch (_) {  // no module workers: beat from the page itself
    const beat = () => bridge.heartbeat().then(() => report(true), () => report(false));
    beat();
    setInterval(beat, HEARTBEAT_MS);
  }
}

async function main() {
  window.calab = { state, lastSolveMs: null };
  kernelPlot = new KernelPlot($("kernel-plot"));
  bindParamInputs();
  bindKeyboard();
  bindCellControls();
  bindExport();
  renderParams();
  setupDrop({ bridge, currentFs: () => (state.data ? state.data.fs : 30), onLoaded: loadData, toast });
  installFeatures({ state, bridge, kernelPlot, toast, setParams, applyParams, focusCell, rebuildGrid,
    loadData, windowBounds, moveWindow });
  if (!bridge) {
    setConnected(false, "no bridge in the URL");
    toast("Open this app with `calab tune` or `calab app` to connect it to Python.", true);
    return;
  }
  startHeartbeat();
  try {
    const status = await bridge.status();
    if (status.has_data) await loadData();
  } catch (error) {
    toast(`Could not load traces: ${error.message}`, true);
  }
  document.body.dataset.ready = "true";
}

main();
