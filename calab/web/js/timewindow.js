// The time window all cards show, and the overview strip that chooses it.
//
// The window lives in samples of the whole recording (state.windowStart, state.windowSeconds);
// the overview shows one cell over the whole recording as a min/max envelope fetched from the
// bridge, with the window highlighted. Dragging on it selects a window, clicking centres it.

import { Overview } from "./cards.js";

const $ = (id) => document.getElementById(id);
const MAX_WINDOW_SAMPLES = 20000;  // the server's limit per solve (bridge_requests.MAX_WINDOW_SAMPLES)
const MIN_WINDOW_S = 1;

export class TimeWindow {
  // onChange(): the window moved (rebuild the cards); toast(message, isError).
  constructor({ state, bridge, toast, onChange }) {
    this.state = state;
    this.bridge = bridge;
    this.toast = toast;
    this.onChange = onChange;
    this.overview = null;
  }

  ensureOverview() {
    if (!this.overview) this.overview = new Overview($("overview-plot"), (w) => this.move(w));
    return this.overview;
  }

  bounds() {
    const { data: d } = this.state;
    const wanted = Math.max(8, Math.round(this.state.windowSeconds * d.fs));
    const length = Math.min(d.totalTime, MAX_WINDOW_SAMPLES, wanted);
    const start = Math.min(Math.max(0, Math.round(this.state.windowStart)), d.totalTime - length);
    this.state.windowStart = start;
    return [start, start + length];
  }

  axis(start, stop) {
    const x = new Float64Array(stop - start);
    for (let i = 0; i < x.length; i++) x[i] = (start + i) / this.state.data.fs;
    return x;
  }

  async showCell(cell) {
    if (cell === null || !this.overview) return;
    $("overview-title").textContent = `Overview · cell ${cell} · whole recording`;
    const points = Math.max(400, Math.min(4000, 2 * $("overview-plot").clientWidth));
    let envelope;
    try {
      envelope = await this.bridge.overview(cell, points);
    } catch (error) {
      if (!this.state.readOnly) this.toast(`Overview of cell ${cell} failed: ${error.message}`, true);
      return;
    }
    if (this.state.focusCell !== cell) return;
    const { header, arrays: [[low], [high]] } = envelope;
    const x = new Float64Array(low.length);
    for (let i = 0; i < x.length; i++) x[i] = ((i + 0.5) * header.bin_samples) / header.fs;
    const gaps = (v) => Array.from(v, (y) => (Number.isFinite(y) ? y : null));
    this.overview.show(x, gaps(low), gaps(high));
    this.highlight();
  }

  highlight() {
    if (!this.overview || !this.state.data) return;
    const [start, stop] = this.bounds();
    this.overview.highlight(start / this.state.data.fs, (stop - 1) / this.state.data.fs);
  }

  move({ center, t0, t1 }) {
    const { state } = this;
    const d = state.data;
    if (!d) return;
    if (t0 !== undefined) {
      state.windowSeconds = Math.max(MIN_WINDOW_S, t1 - t0);
      state.windowStart = Math.round(t0 * d.fs);
      this.showLength(state.windowSeconds);
    } else {
      const length = Math.round(state.windowSeconds * d.fs);
      state.windowStart = Math.round(center * d.fs) - Math.floor(length / 2);
    }
    this.onChange();
  }

  // The window menu always names the current length (a drag-selected one gets its own entry).
  showLength(seconds) {
    const select = $("window-length");
    const preset = [...select.options].find((o) => o.value !== "custom" && Number(o.value) === seconds);
    let custom = select.querySelector("option[value=custom]");
    if (preset) { if (custom) custom.remove(); select.value = preset.value; return; }
    if (!custom) {
      custom = document.createElement("option");
      custom.value = "custom";
      select.appendChild(custom);
    }
    custom.textContent = `${Number(seconds.toPrecision(3))} s (selected)`;
    select.value = "custom";
  }

  pan(direction) {
    if (!this.state.data) return;
    const [start, stop] = this.bounds();
    this.state.windowStart = start + direction * Math.round((stop - start) * 0.8);
    this.onChange();
  }

  bind() {
    $("window-length").addEventListener("change", (e) => {
      if (!e.target.value || e.target.value === "custom" || !this.state.data) return;
      const [start, stop] = this.bounds();
      const center = (start + stop) / 2 / this.state.data.fs;
      this.state.windowSeconds = Number(e.target.value);
      this.showLength(this.state.windowSeconds);
      this.move({ center });
    });
    $("window-prev").addEventListener("click", () => this.pan(-1));
    $("window-next").addEventListener("click", () => this.pan(1));
  }

  resize() {
    if (this.overview) this.overview.resize($("overview-plot").clientWidth);
    this.highlight();
  }
}
