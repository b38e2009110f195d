// Session persistence: parameters, pins and view (with each card's zoom and the linked-zoom
// checkbox) survive a reload (localStorage, per recording); a previous CaTune export JSON
// (chosen or dropped) resumes its parameters.

import { on } from "./hooks.js";
import { restoreZoom, zoomLink, zoomSnapshot } from "./card-zoom.js";

const $ = (id) => document.getElementById(id);
const KEY = "calab.session.v1";

export class Persistence {
  constructor(app) {
    this.app = app;
    this.restoring = false;
    on("data", (data) => this.restore(data));
    // "zoom" fires when a card's view changes (not per redraw); a drag's stream of changes
    // is one write once it pauses (the 200-ms debounce).
    for (const event of ["params", "pins", "tab", "zoom"]) on(event, () => this.saveSoon());
    document.addEventListener("change", () => this.saveSoon());
    document.addEventListener("click", () => this.saveSoon());
    window.addEventListener("pagehide", () => this.save());
    $("resume-file").addEventListener("change", (event) => {
      const file = event.target.files && event.target.files[0];
      if (file) this.resumeFile(file);
      event.target.value = "";
    });
    // A dropped .json is an export to resume from (capture phase: before the traces' drop).
    window.addEventListener("drop", (event) => {
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (!file || !/\.json$/i.test(file.name)) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      document.body.classList.remove("dragging");
      this.resumeFile(file);
    }, true);
  }

  identity(data) {
    return data ? `${data.source}|${data.totalCells}|${data.totalTime}|${data.fs}` : null;
  }

  saveSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), 200);
  }

  save() {
    const { state } = this.app;
    if (!state.data || this.restoring) return;
    const document_ = {
      identity: this.identity(state.data),
      params: state.params,
      pins: this.app.pins ? this.app.pins.serialize() : [],
      view: {
        tab: document.body.dataset.tab, windowSeconds: state.windowSeconds, windowStart: state.windowStart,
        perPage: state.perPage, page: state.page, sort: $("sort-cells").value,
        cardScale: document.body.dataset.cardScale || "1", zoom: zoomSnapshot(),
      },
    };
    try {
      localStorage.setItem(KEY, JSON.stringify(document_));
    } catch (_) {  // too large (pins with long windows) or storage off: keep what fits
      try { localStorage.setItem(KEY, JSON.stringify({ ...document_, pins: [] })); } catch (__) { /* off */ }
    }
  }

  load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (_) { return null; }
  }

  restore(data) {
    const saved = this.load();
    if (!saved || saved.identity !== this.identity(data)) return;
    const { state } = this.app;
    this.restoring = true;
    try {
      const v = saved.view || {};
      if (v.perPage) { state.perPage = v.perPage; $("per-page").value = String(v.perPage); }
      if (Number.isInteger(v.page)) state.page = v.page;
      if (v.sort && state.cells && v.sort !== "all") { state.cells.sort = v.sort; $("sort-cells").value = v.sort; }
      if (v.windowSeconds) state.windowSeconds = v.windowSeconds;
      if (Number.isFinite(v.windowStart)) state.windowStart = v.windowStart;
      const preset = [...$("window-length").options].find((o) => Number(o.value) === v.windowSeconds);
      if (preset) $("window-length").value = preset.value;
      if (v.cardScale && this.app.cardSize) this.app.cardSize.set(Number(v.cardScale));
      // Zoom per cell index: taken by the cards main.js builds right after "data" (a view
      // outside the window is dropped by the card); views of cells not shown are dropped.
      restoreZoom(v.zoom);
      setTimeout(() => zoomLink.restored.clear(), 0);
      if (this.app.pins) this.app.pins.load(saved.pins);
      if (saved.params) this.app.applyParams(saved.params);
      if (v.tab && this.app.tabs) setTimeout(() => this.app.tabs.show(v.tab), 0);
      document.body.dataset.restored = "true";
    } finally {
      this.restoring = false;
    }
  }

  async resumeFile(file) {
    try {
      this.resume(JSON.parse(await file.text()), file.name);
    } catch (error) {
      this.app.toast(`${file.name}: ${error.message}`, true);
    }
  }

  // Set the parameters of a CaTune export (schema 1.x) or say what is wrong with it.
  resume(doc, name = "export") {
    const version = String(doc && doc.schema_version || "");
    if (!/^1\.\d+\.\d+$/.test(version)) throw new Error(`not a CaTune export (schema_version "${version}"; 1.x expected)`);
    const p = doc.parameters || {};
    const params = { tauRise: p.tau_rise_s, tauDecay: p.tau_decay_s, lambda: p.lambda, filter: Boolean(p.filter_enabled) };
    for (const [key, value] of Object.entries({ tau_rise_s: params.tauRise, tau_decay_s: params.tauDecay, lambda: params.lambda })) {
      if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`parameters.${key} is missing or not a number`);
    }
    if (!(params.tauRise > 0 && params.tauRise < params.tauDecay && params.lambda >= 0)) {
      throw new Error("parameters must satisfy 0 < tau_rise_s < tau_decay_s and lambda >= 0");
    }
    this.app.applyParams(params);
    const fs = this.app.state.data && this.app.state.data.fs;
    const note = fs && p.sampling_rate_hz && p.sampling_rate_hz !== fs
      ? ` (it was made at ${p.sampling_rate_hz} Hz; these data are at ${fs} Hz)` : "";
    this.app.toast(`Resumed from ${name}${note}.`);
    document.body.dataset.resumed = name;
  }
}
