// Resizable cards: a size menu for all cards, and a drag handle (or arrow keys) on each card.

const BASE = { trace: 120, activity: 64, residual: 78 };
const FIXED = { residual: 28 };  // px of the time axis under the residual plot
const LIMITS = [0.6, 3];

export class CardSize {
  constructor(app) {
    this.app = app;
    this.scale = 1;
    this.own = new Map();  // cell index -> its own scale, after dragging its handle
    const select = document.getElementById("card-size");
    select.addEventListener("change", () => this.set(Number(select.value)));
    new MutationObserver(() => this.decorate()).observe(document.getElementById("grid"), { childList: true });
  }

  set(scale) {
    this.scale = Math.min(LIMITS[1], Math.max(LIMITS[0], scale || 1));
    this.own.clear();
    document.body.dataset.cardScale = String(this.scale);
    const select = document.getElementById("card-size");
    if ([...select.options].some((o) => Number(o.value) === this.scale)) select.value = String(this.scale);
    for (const card of this.app.state.cards.values()) this.apply(card);
  }

  apply(card, scale = this.own.get(Number(card.element.dataset.cellIndex)) ?? this.scale) {
    if (!card.charts) return;
    for (const [name, height] of Object.entries(BASE)) {
      const chart = card.charts[name];
      const fixed = FIXED[name] || 0;  // the time axis keeps its height; the plot scales
      const wanted = fixed + Math.round((height - fixed) * scale);
      if (chart.height !== wanted) chart.setSize({ width: chart.width, height: wanted });
    }
    card.element.dataset.scale = scale.toFixed(2);
  }

  decorate() {
    for (const card of this.app.state.cards.values()) {
      if (!card.element.querySelector(".card-resize")) card.element.appendChild(this.handle(card));
      this.apply(card);
    }
  }

  handle(card) {
    const handle = document.createElement("button");
    handle.type = "button";
    handle.className = "card-resize";
    handle.setAttribute("data-testid", "card-resize");
    handle.setAttribute("aria-label", "Resize this card (drag, or arrow keys up and down)");
    handle.title = "Drag to resize this card (or focus and press ↑ ↓)";
    const cell = () => Number(card.element.dataset.cellIndex);
    const scaleOf = () => this.own.get(cell()) ?? this.scale;
    const setOwn = (scale) => {
      this.own.set(cell(), Math.min(LIMITS[1], Math.max(LIMITS[0], scale)));
      this.apply(card);
    };
    handle.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      const startY = event.clientY;
      const startScale = scaleOf();
      const total = Object.values(BASE).reduce((a, b) => a + b, 0);
      const move = (e) => setOwn(startScale + (e.clientY - startY) / total);
      const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); };
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
    });
    handle.addEventListener("keydown", (event) => {
      const step = { ArrowDown: 0.1, ArrowUp: -0.1 }[event.key];
      if (!step) return;
      event.preventDefault();
      event.stopPropagation();  // not a lambda nudge
      setOwn(scaleOf() + step);
    });
    return handle;
  }
}
