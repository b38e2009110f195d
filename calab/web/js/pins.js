// Pin and compare: named snapshots of the parameters and of what the cards show, drawn as
// overlays on the cards, with metric deltas to the current parameters; restore a snapshot.
// A pin's fits belong to one window (pin.window, samples); pin-solve.js solves the pin again
// when the window moves or other cells are shown.

import { freshCards } from "./card-watch.js";
import { on, emit } from "./hooks.js";
import { cellMetrics, meanMetrics } from "./metrics.js";
import { addPainter, strokeCurve } from "./overlay.js";
import { formatMs, formatNumber, sameParams } from "./params.js";
import { alignPinWindow, PinSolver } from "./pin-solve.js";

const $ = (id) => document.getElementById(id);
const COLORS = ["#7048e8", "#0ca678", "#d6336c", "#1098ad", "#f59f00", "#495057"];
const MAX_POINTS = 4000;  // per cell and pin, so snapshots stay small enough to persist

export class Pins {
  constructor(app) {
    this.app = app;
    this.pins = [];
    this.nextId = 1;
    this.current = new Map();  // cell index -> metrics of what the card shows now
    this.solver = new PinSolver(app, this, (pin, cell, content) => { pin.cells[cell] = snapshot(content); });
    $("pin").addEventListener("click", () => this.pinNow($("pin-name").value.trim()));
    $("pin-name").addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); this.pinNow(event.target.value.trim()); }
    });
    on("card-fresh", (content) => this.cardFresh(content));
    on("data", () => { this.current.clear(); this.render(); });
  }

  // Pins the parameters now; the fits of cards still solving join when they turn fresh.
  pinNow(name) {
    if (!this.app.state.data) { this.app.toast("Nothing to pin yet: load traces first.", true); return null; }
    const cells = {};
    for (const c of freshCards(this.app)) cells[c.cellIndex] = snapshot(c);
    const id = this.nextId++;
    const pin = { id, name: name || `Pin ${id}`, color: COLORS[(id - 1) % COLORS.length],
      params: { ...this.app.state.params }, cells, window: this.app.windowBounds(), visible: true };
    this.pins.push(pin);
    $("pin-name").value = "";
    this.refresh();
    this.app.toast(`Pinned "${pin.name}".`);
    return pin;
  }

  cardFresh(content) {
    this.current.set(content.cellIndex, cellMetrics(content.x, content.trace, content.fit, content.activity));
    const bounds = this.app.windowBounds();
    for (const pin of this.pins) {  // a pin taken while this card was solving
      alignPinWindow(pin, bounds);
      if (!pin.cells[content.cellIndex] && sameParams(pin.params, this.app.state.params)) {
        pin.cells[content.cellIndex] = snapshot(content);
      }
    }
    this.attach(content.card);
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.render());
    this.solver.schedule();
  }

  // Draw the visible pins' fits on this card's trace chart.
  attach(card) {
    addPainter(card.charts.trace, "pins", (u, ctx) => {
      const cell = Number(card.element.dataset.cellIndex);
      for (const pin of this.pins) {
        const saved = pin.visible && pin.cells[cell];
        if (saved) strokeCurve(u, ctx, saved.x, saved.fit, { color: pin.color, width: 1.4, dash: [5, 3] });
      }
    });
  }

  refresh() {
    for (const card of this.app.state.cards.values()) {
      if (card.charts) { this.attach(card); card.charts.trace.redraw(false); }
    }
    this.render();
    emit("pins", this.pins);
    this.solver.schedule();
  }

  // Metric deltas "now minus pin" over the cells both show.
  deltas(pin) {
    const now = []; const then = [];
    for (const [cell, metrics] of this.current) {
      if (pin.cells[cell]) { now.push(metrics); then.push(pin.cells[cell].metrics); }
    }
    if (!now.length) return null;
    const a = meanMetrics(now); const b = meanMetrics(then);
    return { r2: a.r2 - b.r2, snr: a.snr - b.snr, sparsity: a.sparsity - b.sparsity, cells: now.length };
  }

  render() {
    const list = $("pinned-list");
    list.innerHTML = "";
    $("pins-empty").hidden = this.pins.length > 0;
    for (const pin of this.pins) list.appendChild(this.item(pin));
  }

  item(pin) {
    const li = document.createElement("li");
    li.className = "pin";
    li.setAttribute("data-testid", "pinned-item");
    li.dataset.pinId = String(pin.id);
    li.style.setProperty("--pin", pin.color);
    const p = pin.params;
    const d = this.deltas(pin);
    const delta = (key, value, digits, percent = false) => {
      if (!d) return `<span data-metric="${key}">–</span>`;
      const v = percent ? value * 100 : value;
      const sign = v > 0 ? "+" : v < 0 ? "−" : "±";
      return `<b data-metric="${key}" data-value="${value}">${sign}${Math.abs(v).toFixed(digits)}${percent ? " %" : ""}</b>`;
    };
    li.innerHTML = `
      <label class="pin-show" title="Show this snapshot on the cards"><input type="checkbox"
        ${pin.visible ? "checked" : ""} aria-label="Show ${pin.name} on the cards"><span class="swatch"></span></label>
      <div class="pin-body">
        <div><b class="pin-name"></b></div>
        <div class="pin-params">${formatMs(p.tauRise)} / ${formatMs(p.tauDecay)} ms ·
          λ ${formatNumber(p.lambda, 4)}${p.filter ? " · filter" : ""}</div>
        <div class="pin-deltas" data-testid="pin-deltas" title="Now minus this snapshot, mean over the cells both show">
          <span>ΔR² ${delta("r2", d && d.r2, 3)}</span> <span>ΔSNR ${delta("snr", d && d.snr, 2)}</span>
          <span>Δsparsity ${delta("sparsity", d && d.sparsity, 1, true)}</span></div>
      </div>
      <div class="pin-actions">
        <button type="button" data-testid="pin-restore" title="Set these parameters again">Restore</button>
        <button type="button" data-testid="pin-remove" class="link" aria-label="Remove ${pin.name}">✕</button>
      </div>`;
    li.querySelector(".pin-name").textContent = pin.name;
    li.querySelector("input").addEventListener("change", (event) => { pin.visible = event.target.checked; this.refresh(); });
    li.querySelector("[data-testid=pin-restore]").addEventListener("click", () => this.restore(pin));
    li.querySelector("[data-testid=pin-remove]").addEventListener("click", () => {
      this.pins = this.pins.filter((other) => other !== pin);
      this.refresh();
    });
    return li;
  }

  restore(pin) {
    this.app.applyParams(pin.params);
    this.app.toast(`Restored "${pin.name}".`);
  }

  serialize() {
    return this.pins.map((pin) => ({ ...pin, cells: Object.fromEntries(Object.entries(pin.cells).map(
      ([cell, saved]) => [cell, { x: Array.from(saved.x), fit: Array.from(saved.fit), metrics: saved.metrics }])) }));
  }

  load(saved) {
    if (!Array.isArray(saved)) return;
    this.pins = saved.filter((pin) => pin && pin.params && pin.cells);
    this.nextId = Math.max(0, ...this.pins.map((pin) => pin.id || 0)) + 1;
    this.refresh();
  }
}

function snapshot(c) {
  return { ...decimate(c.x, c.fit), metrics: cellMetrics(c.x, c.trace, c.fit, c.activity) };
}

function decimate(x, fit) {
  const stride = Math.max(1, Math.ceil(x.length / MAX_POINTS));
  const n = Math.ceil(x.length / stride);
  const xs = new Float64Array(n);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) { xs[i] = x[i * stride]; ys[i] = fit[i * stride] ?? NaN; }
  return { x: xs, fit: ys };
}
