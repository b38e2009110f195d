// Metrics tab: one row per loaded cell (SNR, R², fit SNR, sparsity, event rate) for the
// current parameters, solved by the bridge over the loaded window; sortable; CSV download.

import { on } from "./hooks.js";
import { snrTier } from "./metrics.js";

const $ = (id) => document.getElementById(id);
const COLUMNS = [
  { key: "cell_index", label: "Cell", digits: 0 },
  { key: "snr", label: "SNR", digits: 1, title: "Robust signal-to-noise ratio of the trace" },
  { key: "r2", label: "R²", digits: 3, title: "1 - var(residual) / var(trace)" },
  { key: "fit_snr", label: "Fit SNR", digits: 2, title: "std(fit) / std(residual)" },
  { key: "sparsity", label: "Sparsity", digits: 1, percent: true, title: "Share of time points without activity" },
  { key: "event_rate_hz", label: "Events / s", digits: 3, title: "Runs of activity per second" },
];

export class MetricsTab {
  constructor(app) {
    this.app = app;
    this.rows = [];
    this.sort = { key: "snr", descending: true };
    this.table = $("metrics-table");
    this.buildHead();
    $("metrics-csv").addEventListener("click", () => this.download());
    on("tab", (name) => { if (name === "metrics") this.refresh(); });
    on("params", () => this.soon());
    on("data", () => { this.rows = []; this.render(); this.soon(); });
  }

  visible() { return document.body.dataset.tab === "metrics"; }

  soon() {
    clearTimeout(this.timer);
    if (this.visible()) this.timer = setTimeout(() => this.refresh(), 300);
  }

  async refresh() {
    const { bridge, state } = this.app;
    if (!bridge || !state.data) return;
    const p = state.params;
    const asked = JSON.stringify(p);
    this.asked = asked;
    this.table.dataset.state = "loading";
    $("metrics-info").textContent = "Solving every loaded cell…";
    try {
      const answer = await bridge.json("/api/v1/metrics", { method: "POST", json: {
        tau_rise: p.tauRise, tau_decay: p.tauDecay, lambda: p.lambda, filter_enabled: p.filter } });
      if (asked !== this.asked) return;  // parameters changed meanwhile
      this.rows = answer.cells;
      $("metrics-info").textContent = `${answer.cells.length} loaded cells, `
        + `${answer.seconds.toFixed(0)} s each, at the current parameters. Click a header to sort.`;
      this.table.dataset.state = "fresh";
      this.table.dataset.version = String(Number(this.table.dataset.version || 0) + 1);
      this.render();
    } catch (error) {
      if (asked !== this.asked) return;
      this.table.dataset.state = "error";
      $("metrics-info").textContent = `Could not compute the metrics: ${error.message}`;
    }
  }

  buildHead() {
    const row = document.createElement("tr");
    for (const column of COLUMNS) {
      const th = document.createElement("th");
      th.scope = "col";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.dataset.sortKey = column.key;
      button.textContent = column.label;
      if (column.title) button.title = column.title;
      button.addEventListener("click", () => this.sortBy(column.key));
      th.appendChild(button);
      row.appendChild(th);
    }
    this.table.querySelector("thead").replaceChildren(row);
  }

  sortBy(key) {
    this.sort = { key, descending: this.sort.key === key ? !this.sort.descending : key !== "cell_index" };
    this.render();
  }

  sorted() {
    const { key, descending } = this.sort;
    const value = (row) => (row[key] === null ? -Infinity : row[key]);
    return [...this.rows].sort((a, b) => (descending ? value(b) - value(a) : value(a) - value(b))
      || a.cell_index - b.cell_index);
  }

  render() {
    for (const th of this.table.querySelectorAll("th")) {
      const key = th.firstChild.dataset.sortKey;
      th.setAttribute("aria-sort", key !== this.sort.key ? "none" : this.sort.descending ? "descending" : "ascending");
    }
    const body = this.table.querySelector("tbody");
    body.replaceChildren(...this.sorted().map((row) => this.rowElement(row)));
  }

  rowElement(row) {
    const tr = document.createElement("tr");
    tr.setAttribute("data-testid", "metrics-row");
    tr.dataset.cellIndex = String(row.cell_index);
    tr.dataset.snrTier = snrTier(row.snr);
    for (const column of COLUMNS) {
      const td = document.createElement("td");
      td.dataset.key = column.key;
      td.textContent = format(row[column.key], column);
      tr.appendChild(td);
    }
    tr.title = `Show cell ${row.cell_index}`;
    tr.addEventListener("click", () => this.goto(row.cell_index));
    return tr;
  }

  goto(cell) {
    const input = document.querySelector("[data-testid=cell-goto]");
    if (!input) return;
    input.value = String(cell);
    input.dispatchEvent(new Event("change", { bubbles: true }));
    document.querySelector("[data-testid=tab-cells]").click();
  }

  csv() {
    const lines = [COLUMNS.map((c) => c.key).join(",")];
    for (const row of this.sorted()) lines.push(COLUMNS.map((c) => (row[c.key] ?? "")).join(","));
    return lines.join("\n") + "\n";
  }

  download() {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([this.csv()], { type: "text/csv" }));
    link.download = "calab-cell-metrics.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }
}

function format(value, column) {
  if (value === null || value === undefined) return "–";
  if (column.percent) return `${(100 * value).toFixed(column.digits)} %`;
  return column.digits === 0 ? String(value) : Number(value).toFixed(column.digits);
}
