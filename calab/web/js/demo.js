// Demo data: simulated GCaMP6f cells (calab.simulate through POST /api/v1/demo), with the true
// spikes drawn under each card's activity and the true kernel on the kernel plot.

import { on } from "./hooks.js";
import { addPainter, strokeCurve, strokeTicks } from "./overlay.js";

const $ = (id) => document.getElementById(id);
const TRUTH_COLOR = "#2f9e44";

export class Demo {
  constructor(app) {
    this.app = app;
    this.truth = null;
    $("demo-load").addEventListener("click", () => this.load());
    on("data", (data) => this.dataLoaded(data));
    on("card-fresh", (content) => this.attach(content.card));
    addPainter(app.kernelPlot.chart, "truth", (u, ctx) => this.paintKernel(u, ctx));
  }

  async load() {
    const button = $("demo-load");
    button.disabled = true;
    try {
      await this.app.bridge.json("/api/v1/demo", { method: "POST", json: {} });
      await this.app.loadData();
    } catch (error) {
      this.app.toast(`Demo data: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  async dataLoaded(data) {
    this.truth = null;
    $("true-kernel").hidden = true;
    if (!data.source.startsWith("demo:")) return;
    try {
      this.truth = await this.app.bridge.json("/api/v1/demo/truth");
    } catch (_) {
      return;  // not the demo any more
    }
    const t = this.truth;
    $("true-kernel").hidden = false;
    $("true-kernel-text").textContent = `true kernel: rise ${t.tau_rise * 1000} ms, decay ${t.tau_decay * 1000} ms`
      + " · green ticks under the activity: true spikes";
    document.body.dataset.demo = "true";
    for (const card of this.app.state.cards.values()) if (card.charts) this.attach(card);
    this.app.kernelPlot.chart.redraw(false);
  }

  attach(card) {
    if (!this.truth || !card.charts) return;
    addPainter(card.charts.activity, "truth", (u, ctx) => {
      const spikes = this.truth && this.truth.spikes[card.element.dataset.cellIndex];
      if (!spikes) return;
      const times = spikes.frames.map((f) => f / this.truth.fs);
      const sizes = spikes.counts.map((n) => 0.35 + 0.2 * (n - 1));
      strokeTicks(u, ctx, times, sizes, { color: TRUTH_COLOR, width: 1.5 });
    });
    card.element.dataset.truth = "true";
    card.charts.activity.redraw(false);
  }

  paintKernel(u, ctx) {
    if (!this.truth || !u.data[0] || !u.data[0].length) return;
    const { tau_rise: r, tau_decay: d } = this.truth;
    const t = u.data[0];
    const h = t.map((s) => Math.exp(-s / d) - Math.exp(-s / r));
    const peak = Math.max(...h) || 1;
    strokeCurve(u, ctx, t, h.map((v) => v / peak), { color: TRUTH_COLOR, width: 1.5, dash: [4, 3] });
  }
}
