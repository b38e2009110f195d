// The value readout of a card: while the pointer is over the card's plots, the time and the
// trace, fit and activity values of the sample under it (uPlot's cursor index, so exactly the
// plotted samples). The element (data-testid hover-readout) carries them as data-time,
// data-trace, data-fit, data-activity too.

const fixed = (v, digits) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits));

function significant(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.001) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

export class HoverReadout {
  // card: a mounted CellCard (charts, plots, readout element).
  constructor(card) {
    this.card = card;
    this.hovered = false;
    this.box = card.readout;
    card.plots.addEventListener("mouseenter", () => { this.hovered = true; });
    card.plots.addEventListener("mouseleave", () => { this.hovered = false; this.box.hidden = true; });
    for (const chart of Object.values(card.charts)) {
      chart.hooks.setCursor = [...(chart.hooks.setCursor || []), (u) => this.show(u.cursor.idx)];
    }
  }

  show(index) {
    if (!this.hovered) return;
    const [x, trace, fit] = this.card.charts.trace.data;
    const activity = this.card.charts.activity.data[1];
    if (index === null || index === undefined || !x || index >= x.length) { this.box.hidden = true; return; }
    const values = { time: x[index], trace: trace[index], fit: fit[index], activity: activity ? activity[index] : NaN };
    const fs = x.length > 1 ? 1 / (x[1] - x[0]) : 1;
    const digits = Math.max(1, Math.ceil(Math.log10(fs)) + 1);
    this.box.textContent = `${fixed(values.time, digits)} s · trace ${significant(values.trace)}`
      + ` · fit ${significant(values.fit)} · activity ${significant(values.activity)}`;
    for (const [key, value] of Object.entries(values)) this.box.dataset[key] = String(value);
    this.box.hidden = false;
  }
}
