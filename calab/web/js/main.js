// CaTune web app (calab): parameters, cell cards, real-time solving through the bridge.

import { Bridge } from "./bridge.js";
import { CellCard, KernelPlot } from "./cards.js";
import { CellList, renderCellChips } from "./cells.js";
import { bindExport, enterReadOnly } from "./export.js";
import { setConnected, startHeartbeat } from "./connection.js";
import { SolveLoop } from "./solver.js";
import { TimeWindow } from "./timewindow.js";
import { setupDrop } from "./drop.js";
import { bindParamKeys } from "./param-keys.js";
import { startAtSuggestion } from "./suggestion.js";
import { installFeatures } from "./features.js";
import { emit } from "./hooks.js";
import * as P from "./params.js";

const $ = (id) => document.getElementById(id);

const state = {
  params: { ...P.DEFAULTS },
  history: new P.History(P.DEFAULTS),
  data: null,        // {fs, source, totalCells, totalTime, subsetStart, subsetLength}
  cells: null,       // CellList: which cells the grid pages through
  perPage: 6,
  page: 0,
  focusCell: null,   // original index of the cell in the overview
  windowSeconds: 60,
  windowStart: 0,    // first sample of the window, in the whole recording
  cards: new Map(),  // original cell index -> CellCard
  readOnly: false,
  uploadLimit: null,
  dragging: false,   // a slider is moving: solves are drafts until it is released
};
const bridge = Bridge.fromLocation(window.location);
let kernelPlot = null;
let solver = null;
const view = new TimeWindow({ state, bridge, toast: (...a) => toast(...a), onChange: () => rebuildGrid() });

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
  $("tau-rise-ms").value = P.formatMs(p.tauRise);
  $("tau-decay-ms").value = P.formatMs(p.tauDecay);
  $("lambda").value = P.formatNumber(p.lambda, 4);
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
  if (state.readOnly) { renderParams(); return; }
  let next = { ...state.params, ...change };
  if (!(next.tauRise > 0) || !(next.tauDecay > 0) || !(next.lambda >= 0)) {
    toast("Times must be > 0 ms and λ must be ≥ 0.", true);
    renderParams();
    return;
  }
  next = P.roundParams(next);
  if (next.tauRise >= next.tauDecay) {
    if (edited === "rise") next.tauRise = P.tidy(next.tauDecay * 0.9);
    else next.tauDecay = P.tidy(next.tauRise / 0.9);
    toast("Rise time is kept below decay time.");
  }
  next = P.roundParams(next);
  const changed = !P.sameParams(next, state.params);
  state.params = next;
  if (commit) state.history.commit(next);
  renderParams();
  if (changed) requestSolve();
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
    const apply = (commit) => (event) => {
      state.dragging = !commit;
      setParams(toValue(Number(event.target.value)), { commit, edited });
    };
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

function undo() { if (!state.readOnly) restoreFromHistory(state.history.undo()); }
function redo() { if (!state.readOnly) restoreFromHistory(state.history.redo()); }

function restoreFromHistory(params) {
  if (!params) return;
  state.params = params;
  renderParams();
  requestSolve();
}

// Set all three parameters at once (a snapshot, a resumed export, a suggestion) as one undo step.
function applyParams({ tauRise, tauDecay, lambda, filter }) {
  const change = { tauRise, tauDecay, lambda };
  if (filter !== undefined) change.filter = filter;
  setParams(change, { edited: "decay" });
}

// ---------------------------------------------------------------- cells and window
function visibleCells() {
  const list = state.cells;
  const pages = list.pageCount(state.perPage);
  state.page = Math.min(Math.max(0, state.page), pages - 1);
  const count = list.count();
  $("page-info").textContent = count
    ? `page ${state.page + 1} of ${pages} · ${count} cells` : "no cells selected";
  return list.page(state.page, state.perPage);
}

function renderChips() {
  renderCellChips($("cell-chips"), state.cells, () => rebuildGrid());
}

function cardWidth() {
  const first = $("grid").querySelector(".card");
  return first ? first.clientWidth - 20 : 400;
}

function rebuildGrid() {
  const cells = visibleCells();
  const keep = new Set(cells);
  for (const [cell, card] of state.cards) {
    if (!keep.has(cell)) { card.destroy(); state.cards.delete(cell); }
  }
  const grid = $("grid");
  grid.dataset.count = String(cells.length);
  for (const cell of cells) {
    if (!state.cards.has(cell)) state.cards.set(cell, new CellCard(cell, state.cells.snr.get(cell), focusCell));
    grid.appendChild(state.cards.get(cell).element);
  }
  $("grid-empty").hidden = cells.length > 0;
  const width = cardWidth();
  for (const cell of cells) {
    const card = state.cards.get(cell);
    if (!card.charts) card.mount(width);
  }
  if (state.focusCell === null || !keep.has(state.focusCell)) focusCell(cells[0] ?? null);
  else view.highlight();
  requestSolve();
}

function focusCell(cell) {
  state.focusCell = cell;
  for (const [c, card] of state.cards) card.element.classList.toggle("focused", c === cell);
  view.showCell(cell);
}

const windowBounds = () => view.bounds();
const moveWindow = (choice) => view.move(choice);

function gotoCell(event) {
  const text = event.target.value.trim();
  const cell = Number(text);
  if (!state.data || text === "") return;
  if (!Number.isInteger(cell) || cell < 0 || cell >= state.cells.total) {
    toast(`No cell ${text}: this recording has cells 0 to ${state.cells.total - 1}.`, true);
    return;
  }
  const added = !state.cells.known.includes(cell) && !state.cells.allMode;
  state.page = state.cells.reveal(cell, state.perPage);
  if (added) renderChips();
  rebuildGrid();
  focusCell(cell);
  state.cards.get(cell)?.element.scrollIntoView({ block: "nearest" });
}

function bindCellControls() {
  $("sort-cells").addEventListener("change", (e) => {
    if (!state.cells) return;
    state.cells.sort = e.target.value;
    state.page = 0;
    rebuildGrid();
  });
  $("per-page").addEventListener("change", (e) => {
    state.perPage = Number(e.target.value);
    state.page = 0;
    if (state.cells) rebuildGrid();
  });
  $("page-prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); if (state.cells) rebuildGrid(); });
  $("page-next").addEventListener("click", () => { state.page += 1; if (state.cells) rebuildGrid(); });
  $("cell-goto").addEventListener("change", gotoCell);
  const selectAll = (value) => { if (!state.cells) return; state.cells.setAll(value); renderChips(); rebuildGrid(); };
  $("cells-all").addEventListener("click", () => selectAll(true));
  $("cells-none").addEventListener("click", () => selectAll(false));
  view.bind();
  new ResizeObserver(() => {
    const width = cardWidth();
    for (const card of state.cards.values()) card.resize(width);
    view.resize();
  }).observe($("grid"));
}

// ---------------------------------------------------------------- solving
function solveSnapshot({ final = false } = {}) {
  if (!state.data || state.readOnly) return null;
  const cells = [...state.cards.keys()];
  if (!cells.length) return null;
  const [start, stop] = windowBounds();
  const p = state.params;
  const body = {
    tau_rise: p.tauRise, tau_decay: p.tauDecay, lambda: p.lambda, filter_enabled: p.filter,
    cells, start, stop,
  };
  const key = JSON.stringify(body);
  body.draft = state.dragging && !final;
  return { key, body };
}

function requestSolve() {
  if (!state.data || !solver || state.readOnly) return;
  for (const card of state.cards.values()) card.setState("stale");
  solver.request();
}

function solveSent(snap) {
  for (const cell of snap.body.cells) state.cards.get(cell)?.setState("solving");
}

function solveResult(result, snap, isLatest) {
  const [fits, activities, traces] = result.arrays;
  const h = result.header;
  const x = view.axis(h.start, h.stop);
  h.cell_indices.forEach((cell, k) => {
    const card = state.cards.get(cell);
    if (!card || !card.charts) return;
    card.showSolution(x, traces[k], fits[k], activities[k], {
      r2: h.r2[k], missing: h.missing[k], longestGap: h.longest_gap_s[k],
      empty: h.no_finite_values[k], filtered: h.filter_enabled, snr: h.snr ? h.snr[k] : NaN,
    });
    card.setState(isLatest && !h.draft ? "fresh" : "stale");
  });
  window.calab.lastSolveMs = h.solve_ms;
  window.calab.solves += 1;
}

function solveFailed(error, snap) {
  if (state.readOnly) return;
  for (const cell of snap.body.cells) state.cards.get(cell)?.setState("error");
  toast(`Solve failed: ${error.message}`, true);
}

// ---------------------------------------------------------------- data
async function loadData() {
  const metadata = await bridge.metadata();
  for (const card of state.cards.values()) card.destroy();
  state.cards.clear();
  state.data = {
    fs: metadata.sampling_rate_hz, source: metadata.source || "",
    totalCells: metadata.total_cells || metadata.num_cells,
    totalTime: metadata.total_timepoints || metadata.num_timepoints,
    subsetStart: metadata.start_sample || 0, subsetLength: metadata.num_timepoints,
  };
  state.cells = new CellList(metadata);
  startAtSuggestion(state, metadata.suggestion);  // before "data": a kept session still wins
  state.cells.sort = $("sort-cells").value;
  $("cell-goto").max = String(state.data.totalCells - 1);
  $("sort-all-option").textContent = `All ${state.data.totalCells} cells, by index`;
  state.windowStart = state.data.subsetStart;
  state.page = 0;
  state.focusCell = null;
  const d = state.data;
  $("dataset-info").textContent = `${d.source} · ${d.totalCells} cells × ${d.totalTime} samples `
    + `(${formatDuration(d.totalTime / d.fs)}) @ ${d.fs} Hz`;
  document.body.classList.add("has-data");
  $("overview-box").hidden = false;
  view.ensureOverview();
  renderChips();
  renderParams();
  emit("data", state.data);
  rebuildGrid();
}

function formatDuration(seconds) {
  return seconds >= 120 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(1)} s`;
}

// ---------------------------------------------------------------- export
function currentExport() {
  const d = state.data;
  return P.exportDocument(state.params, d ? d.fs : 30, {
    source: d ? d.source : "", numCells: d ? d.totalCells : 0, numTimepoints: d ? d.totalTime : 0,
  });
}

function exported() {
  state.readOnly = true;
  if (solver) solver.stop();
}

async function main() {
  window.calab = { state, lastSolveMs: null, solves: 0 };
  kernelPlot = new KernelPlot($("kernel-plot"));
  bindParamInputs();
  bindParamKeys({ state, setParams, undo, redo });
  bindCellControls();
  bindExport({ bridge, currentExport, hasData: () => state.data !== null, toast, onExported: exported });
  renderParams();
  setupDrop({
    bridge, currentFs: () => (state.data ? state.data.fs : 30), onLoaded: loadData, toast,
    maxBytes: () => state.uploadLimit,
  });
  if (bridge) {
    solver = new SolveLoop({
      bridge, snapshot: solveSnapshot, onSent: solveSent, onResult: solveResult, onError: solveFailed,
    });
    window.calab.session = solver.session;
    window.calab.solver = solver;
  }
  installFeatures({ state, bridge, kernelPlot, toast, setParams, applyParams, focusCell, rebuildGrid,
    loadData, windowBounds, moveWindow, solverIdle: () => !solver || !solver.running });
  if (!bridge) {
    setConnected(false, "no bridge in the URL");
    toast("Open this app with `calab tune` or `calab app` to connect it to Python.", true);
    return;
  }
  startHeartbeat(bridge);
  try {
    const status = await bridge.status();
    state.uploadLimit = status.upload_limit_bytes ?? null;
    if (status.state === "exported") enterReadOnly("Parameters were already exported from this session; the page is read-only.");
    else if (status.has_data) await loadData();
  } catch (error) {
    toast(`Could not load traces: ${error.message}`, true);
  }
  document.body.dataset.ready = "true";
}

main();
