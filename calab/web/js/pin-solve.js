// Keeps pins in step with what the cards show: when the time window moves or other cells come
// into view, each pin's parameters are solved again for the cells shown and the window, so its
// overlay and metric deltas follow.
//
// Pin requests never slow the main solve: at most one is in flight, it carries at most
// MAX_CELLS cells (a short solve), one is sent only while the main solve loop is idle and no
// slider moves, and they go in their own session so they neither supersede nor are superseded
// by the main requests.

import { newSessionId } from "./solver.js";

const MAX_CELLS = 2;
const SETTLE_MS = 80;  // wait this long after the last trigger (a drag's frames come faster)

// The window a pin's fits belong to is the one shown now: forget fits of another window.
export function alignPinWindow(pin, bounds) {
  if (pin.window && pin.window[0] === bounds[0] && pin.window[1] === bounds[1]) return;
  pin.window = [bounds[0], bounds[1]];
  pin.cells = {};
}

export class PinSolver {
  // app: {state, bridge, windowBounds(), solverIdle()}; pins: the Pins feature;
  // store(pin, cell, content): keep a solution {x, trace, fit, activity} of a pin.
  constructor(app, pins, store) {
    this.app = app;
    this.pins = pins;
    this.store = store;
    this.session = `pins-${newSessionId()}`;
    this.requestId = 0;
    this.inFlight = 0;
    this.maxInFlight = 0;  // the most pin requests ever in flight at once (1 by design)
    this.sent = 0;
    this.running = false;
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { if (!this.running) this.run(); }, SETTLE_MS);
  }

  // The next request: the first pin missing some of the cells shown fresh now, or null.
  next() {
    const { state } = this.app;
    if (!this.app.bridge || !state.data || state.readOnly || state.dragging || !this.app.solverIdle()) return null;
    const shown = [...state.cards.values()].filter((card) => card.state === "fresh").map((card) => card.cell);
    if (!shown.length) return null;
    const bounds = this.app.windowBounds();
    for (const pin of this.pins.pins) {
      alignPinWindow(pin, bounds);
      const missing = shown.filter((cell) => !pin.cells[cell]);
      if (missing.length) return { pin, cells: missing.slice(0, MAX_CELLS), start: bounds[0], stop: bounds[1] };
    }
    return null;
  }

  async run() {
    this.running = true;
    try {
      let job = this.next();
      while (job) {
        if (!(await this.send(job))) break;
        job = this.next();
      }
    } finally {
      this.running = false;
    }
  }

  async send({ pin, cells, start, stop }) {
    const p = pin.params;
    const body = { tau_rise: p.tauRise, tau_decay: p.tauDecay, lambda: p.lambda, filter_enabled: p.filter,
      cells, start, stop, draft: false, request_id: ++this.requestId, session: this.session };
    this.sent += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let result;
    try {
      result = await this.app.bridge.solve(body);
    } catch (_) {
      return false;  // the main loop reports a bridge that fails; pins just wait for the next trigger
    } finally {
      this.inFlight -= 1;
    }
    if (!result || !this.pins.pins.includes(pin) || pin.window[0] !== start || pin.window[1] !== stop) return Boolean(result);
    const [fits, activities, traces] = result.arrays;
    const fs = this.app.state.data.fs;
    const x = new Float64Array(stop - start);
    for (let i = 0; i < x.length; i++) x[i] = (start + i) / fs;
    result.header.cell_indices.forEach((cell, k) => {
      this.store(pin, cell, { x, trace: traces[k], fit: fits[k], activity: activities[k] });
    });
    this.pins.refresh();
    return true;
  }
}
