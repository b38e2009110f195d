// Per-card zoom and pan inside the time window the cards were solved for; linked zoom.
//
// A card's view is null (the whole window) or [t0, t1] in seconds, at least MIN_SPAN_S wide
// and inside the window. Zooming sets the x scale of the card's three uPlot charts (uPlot
// ranges y over the visible samples): nothing is re-solved, and the charts hold every sample
// of the window, so a 1-s view draws the full-resolution data. Each card element carries
// data-view-start / data-view-end (seconds shown now) and data-zoomed.
//
// Controls: drag-select on a plot zooms to the selection; the wheel over the time axis (or
// Ctrl+wheel over a plot) zooms around the pointer; Shift+drag pans; double-click resets; the
// header's − + ⤢ buttons; with the plots focused, + − zoom, ← → pan, 0 or Esc resets.
// With "linked zoom" on, a zoom or pan of one card applies to every card.
//
// A change of any card's view emits "zoom" (persist.js saves it, debounced, with the session);
// a restored session puts its views in zoomLink.restored (cell index -> [t0, t1]): a card of
// that cell takes its view with its first data if it lies inside the window, else drops it.

import { emit } from "./hooks.js";

const MIN_SPAN_S = 1;
const BUTTON_FACTOR = 2;
const WHEEL_FACTOR = 1.25;
const PAN_FRACTION = 0.25;

export const zoomLink = { linked: false, view: null, zooms: new Set(), restored: new Map() };

export class CardZoom {
  // card: a mounted CellCard (charts, element, plots = the element around the charts).
  constructor(card) {
    this.card = card;
    this.view = null;
    this.restored = zoomLink.restored.get(card.cell) || null;  // until the first data
    zoomLink.restored.delete(card.cell);
    zoomLink.zooms.add(this);
    const trace = card.charts.trace;
    trace.hooks.setScale = [...(trace.hooks.setScale || []), (u, key) => { if (key === "x") this.mark(u); }];
    for (const chart of Object.values(card.charts)) {
      chart.hooks.setSelect = [...(chart.hooks.setSelect || []), (u) => this.selected(u)];
    }
    this.bind();
  }

  destroy() { zoomLink.zooms.delete(this); }

  // [first, last] sample time of the window shown, or null before the first solution.
  extent() {
    const x = this.card.charts.trace.data[0];
    return x && x.length > 1 ? [x[0], x[x.length - 1]] : null;
  }

  // The view as it may be shown: at least MIN_SPAN_S wide (around its centre), shifted into
  // the window; null when it covers the whole window.
  fit(view) {
    const extent = this.extent();
    if (!view || !extent) return null;
    const full = extent[1] - extent[0];
    const span = Math.max(MIN_SPAN_S, view[1] - view[0]);
    if (span >= full) return null;
    const centre = (view[0] + view[1]) / 2;
    const t0 = Math.min(Math.max(extent[0], centre - span / 2), extent[1] - span);
    return [t0, t0 + span];
  }

  set(view) {
    const fitted = this.fit(view);
    const before = this.view;
    if (zoomLink.linked) {
      zoomLink.view = fitted;
      for (const zoom of zoomLink.zooms) zoom.show(fitted);
    } else {
      this.show(fitted);
    }
    if (!sameView(before, fitted)) emit("zoom");
  }

  show(view) {
    this.view = view;
    const extent = this.extent();
    if (!extent) return;
    const [min, max] = view || extent;
    for (const chart of Object.values(this.card.charts)) chart.setScale("x", { min, max });
  }

  // New data arrived (setData re-ranged x to the whole window): keep a view that still lies
  // inside the window, forget one that does not.
  afterData() {
    const before = this.view || this.restored;
    const wanted = zoomLink.linked ? zoomLink.view : before;
    this.restored = null;
    const extent = this.extent();
    const inside = wanted && extent && wanted[0] >= extent[0] - 1e-9 && wanted[1] <= extent[1] + 1e-9;
    this.view = inside ? wanted : null;
    if (this.view) this.show(this.view);
    if (before && !this.view) emit("zoom");  // outside the window now: the session forgets it
  }

  current() { return this.view || this.extent(); }

  // What a session keeps of this card: its view, or a restored one still waiting for data.
  saved() { return this.view || this.restored; }

  zoomBy(factor, centre) {
    const now = this.current();
    if (!now) return;
    const c = centre ?? (now[0] + now[1]) / 2;
    this.set([c - (c - now[0]) / factor, c + (now[1] - c) / factor]);
  }

  panBy(seconds) {
    if (!this.view) return;
    this.set([this.view[0] + seconds, this.view[1] + seconds]);
  }

  reset() { this.set(null); }

  // The card's data-view-start / -end / -zoomed; written only when they change (a drag's
  // refreshes keep the same window, so they cost nothing there).
  mark(u) {
    const { min, max } = u.scales.x;
    if (min == null || max == null) return;
    const marks = { viewStart: String(Number(min.toFixed(4))), viewEnd: String(Number(max.toFixed(4))),
      zoomed: String(this.view !== null) };
    const { dataset } = this.card.element;
    for (const [key, value] of Object.entries(marks)) if (dataset[key] !== value) dataset[key] = value;
  }

  // A drag-select on any of the card's plots: zoom to it, then clear the selection box.
  selected(u) {
    if (u.select.width < 3) return;
    const t0 = u.posToVal(u.select.left, "x");
    const t1 = u.posToVal(u.select.left + u.select.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    this.set([t0, t1]);
  }

  // Seconds per CSS pixel of the plots, and the time under clientX.
  scaleAt(clientX) {
    const over = this.card.charts.trace.over.getBoundingClientRect();
    const [t0, t1] = this.current();
    const perPixel = (t1 - t0) / Math.max(1, over.width);
    return { perPixel, time: t0 + (clientX - over.left) * perPixel };
  }

  bind() {
    const { element, plots, charts } = this.card;
    const button = (testid, action) => element.querySelector(`[data-testid=${testid}]`)
      .addEventListener("click", action);
    button("zoom-in", () => this.zoomBy(BUTTON_FACTOR));
    button("zoom-out", () => this.zoomBy(1 / BUTTON_FACTOR));
    button("zoom-reset", () => this.reset());
    plots.addEventListener("wheel", (event) => {
      const axisTop = charts.residual.over.getBoundingClientRect().bottom;
      if (!event.ctrlKey && event.clientY < axisTop) return;  // plain wheel scrolls the page
      if (!this.current()) return;
      event.preventDefault();
      const factor = event.deltaY < 0 ? WHEEL_FACTOR : 1 / WHEEL_FACTOR;
      this.zoomBy(factor, this.scaleAt(event.clientX).time);
    }, { passive: false });
    plots.addEventListener("dblclick", () => this.reset());
    plots.addEventListener("mousedown", (event) => this.startPan(event), true);
    plots.addEventListener("keydown", (event) => this.key(event));
  }

  // Shift+drag pans (captured before uPlot starts a selection).
  startPan(event) {
    if (!event.shiftKey || event.button !== 0 || !this.view) return;
    event.stopPropagation();
    event.preventDefault();
    const { perPixel } = this.scaleAt(event.clientX);
    const from = event.clientX;
    const start = this.view;
    const move = (e) => this.set([start[0] - (e.clientX - from) * perPixel, start[1] - (e.clientX - from) * perPixel]);
    const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  }

  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const now = this.current();
    if (!now) return;
    const step = (now[1] - now[0]) * PAN_FRACTION;
    const actions = {
      "+": () => this.zoomBy(BUTTON_FACTOR), "=": () => this.zoomBy(BUTTON_FACTOR),
      "-": () => this.zoomBy(1 / BUTTON_FACTOR), 0: () => this.reset(), Escape: () => this.reset(),
      ArrowLeft: () => this.panBy(-step), ArrowRight: () => this.panBy(step),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();  // the page's own keys (parameters, tabs) stay out of it
    action();
  }
}

function sameView(a, b) {
  return a === b || (a !== null && b !== null && Math.abs(a[0] - b[0]) < 1e-9 && Math.abs(a[1] - b[1]) < 1e-9);
}

// The views to keep with the session: {linked, view (the linked one), cells: {index: [t0, t1]}}.
export function zoomSnapshot() {
  const cells = {};
  for (const zoom of zoomLink.zooms) {
    const view = zoom.saved();
    if (view) cells[zoom.card.cell] = [view[0], view[1]];  // unrounded: a view at the window's end stays inside
  }
  return { linked: zoomLink.linked, view: zoomLink.linked ? zoomLink.view : null, cells };
}

// Restore a zoomSnapshot before the cards are built (views checked against the window later).
export function restoreZoom(saved) {
  const valid = (v) => Array.isArray(v) && v.length === 2 && v.every(Number.isFinite) && v[1] - v[0] >= MIN_SPAN_S - 1e-3;
  zoomLink.restored = new Map();
  for (const [cell, view] of Object.entries((saved && saved.cells) || {})) {
    if (/^\d+$/.test(cell) && valid(view)) zoomLink.restored.set(Number(cell), view);
  }
  zoomLink.linked = Boolean(saved && saved.linked);
  zoomLink.view = zoomLink.linked && valid(saved.view) ? saved.view : null;
  document.getElementById("zoom-linked").checked = zoomLink.linked;
}

// The "linked zoom" checkbox: on, the focused card's view (or the first zoomed one) goes to all.
export function installZoomLink(app) {
  const box = document.getElementById("zoom-linked");
  box.addEventListener("change", () => {
    zoomLink.linked = box.checked;
    if (!box.checked) return;
    const focused = app.state.cards.get(app.state.focusCell);
    const source = (focused && focused.zoom && focused.zoom.view ? focused.zoom : null)
      || [...zoomLink.zooms].find((zoom) => zoom.view);
    zoomLink.view = null;
    if (source) source.set(source.view);
    else for (const zoom of zoomLink.zooms) zoom.show(null);
  });
}
