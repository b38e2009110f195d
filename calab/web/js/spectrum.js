// Spectrum tab: the chosen cell's periodogram, the mean over loaded cells, and the bandpass
// filter's passband shaded (computed by the bridge, GET /api/v1/spectrum).

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { on } from "./hooks.js";
import { addPainter } from "./overlay.js";

const $ = (id) => document.getElementById(id);

export class SpectrumTab {
  constructor(app) {
    this.app = app;
    this.chart = null;
    this.answer = null;
    $("spectrum-cell").addEventListener("change", () => this.refresh());
    on("tab", (name) => { if (name === "spectrum") this.open(); });
    on("params", () => { if (this.visible()) { clearTimeout(this.timer); this.timer = setTimeout(() => this.refresh(), 250); } });
  }

  visible() { return document.body.dataset.tab === "spectrum"; }

  open() {
    const focused = document.querySelector(".card.focused") || document.querySelector("[data-testid=cell-card]");
    if (focused) $("spectrum-cell").value = focused.dataset.cellIndex;
    this.refresh();
  }

  async refresh() {
    const { bridge, state } = this.app;
    if (!bridge || !state.data) return;
    const p = state.params;
    const first = document.querySelector("[data-testid=cell-card]");
    const cell = Number($("spectrum-cell").value || (first ? first.dataset.cellIndex : 0));
    const query = `cell=${cell}&tau_rise=${p.tauRise}&tau_decay=${p.tauDecay}`;
    const box = $("panel-spectrum");
    box.dataset.state = "loading";
    try {
      this.answer = await bridge.json(`/api/v1/spectrum?${query}`);
      this.draw();
      box.dataset.state = "fresh";
      box.dataset.cellIndex = String(this.answer.cell_index);
    } catch (error) {
      box.dataset.state = "error";
      this.app.toast(`Spectrum: ${error.message}`, true);
    }
  }

  draw() {
    const a = this.answer;
    const keep = a.freqs_hz.map((f, i) => (f > 0 ? i : -1)).filter((i) => i >= 0);
    const pick = (values) => keep.map((i) => Math.max(values[i], 1e-12));
    const data = [keep.map((i) => a.freqs_hz[i]), pick(a.cell_power), pick(a.mean_power)];
    const [lo, hi] = a.passband_hz;
    const filterOn = this.app.state.params.filter;
    $("spectrum-info").textContent = `Cell ${a.cell_index} and the mean of the loaded cells, `
      + `${a.seconds.toFixed(0)} s each. Passband ${fmt(lo)}–${fmt(hi)} Hz`
      + (filterOn ? " (filter on)." : " (filter off: shown for reference).");
    if (!this.chart) this.chart = this.build();
    this.band = { lo, hi, on: filterOn };
    this.chart.setData(data);
  }

  build() {
    const target = $("spectrum-plot");
    const chart = new uPlot({
      width: Math.max(400, target.clientWidth || 900),
      height: 360,
      scales: { x: { time: false, distr: 3, range: (u, min, max) => [min, max] }, y: { distr: 3 } },
      legend: { show: true },
      axes: [
        { label: "frequency (Hz)", stroke: "#6b7785", grid: { stroke: "#eef1f4" } },
        { label: "power (units²/Hz)", stroke: "#6b7785", size: 70, grid: { stroke: "#eef1f4" },
          values: (u, vals) => vals.map((v) => (v == null ? "" : v.toExponential(0))) },
      ],
      series: [
        { label: "Hz", value: (u, v) => (v == null ? "–" : fmt(v)) },
        { label: "this cell", stroke: "#1971c2", width: 1.5, value: (u, v) => (v == null ? "–" : v.toExponential(2)) },
        { label: "mean of loaded cells", stroke: "#868e96", width: 1.5, dash: [6, 3],
          value: (u, v) => (v == null ? "–" : v.toExponential(2)) },
      ],
    }, [[], [], []], target);
    addPainter(chart, "passband", (u, ctx) => {
      if (!this.band) return;
      const left = u.valToPos(this.band.lo, "x", true);
      const right = u.valToPos(this.band.hi, "x", true);
      ctx.fillStyle = this.band.on ? "rgba(43,138,62,0.12)" : "rgba(134,142,150,0.10)";
      ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
    });
    new ResizeObserver(() => {
      if (!target.clientWidth) return;
      chart.setSize({ width: target.clientWidth, height: 360 });
    }).observe(target);
    return chart;
  }
}

function fmt(value) {
  return value >= 10 ? value.toFixed(1) : value >= 0.1 ? value.toFixed(2) : value.toPrecision(2);
}
