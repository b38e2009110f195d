// The parameters suggested from the data (calab.suggest_params, computed by the bridge when it
// got the recording): the app opens at them, marks them on each slider and offers a reset.
//
// The bridge sends {tau_rise, tau_decay, lambda (seconds / penalty), reliable, reasons,
// cells_read, cells_active} as the dataset description's `suggestion` field (null when the data
// admit none). main.js calls startAtSuggestion() when data arrive, before the "data" event, so
// parameters the browser kept for the same recording (persist.js) still win on a reload.

import { on } from "./hooks.js";
import * as P from "./params.js";

const $ = (id) => document.getElementById(id);

// Slider id -> how a parameter set maps onto its 0..SLIDER_STEPS position.
const SLIDERS = {
  rise: { id: "tau-rise-slider", position: (p) => P.logToSlider(p.tauRise * 1000, P.RANGES.riseMs) },
  decay: { id: "tau-decay-slider", position: (p) => P.logToSlider(p.tauDecay * 1000, P.RANGES.decayMs) },
  lambda: { id: "lambda-slider", position: (p) => P.lambdaToSlider(p.lambda) },
};

// The app's parameter object for a bridge suggestion (at the panel's precision), or null when
// it is missing or unusable.
export function suggestedParams(suggestion) {
  if (!suggestion || typeof suggestion !== "object") return null;
  const { tau_rise: tauRise, tau_decay: tauDecay, lambda } = suggestion;
  const finite = [tauRise, tauDecay, lambda].every((v) => typeof v === "number" && Number.isFinite(v));
  if (!finite || !(tauRise > 0 && tauRise < tauDecay && lambda >= 0)) return null;
  const rounded = P.roundParams({ tauRise, tauDecay, lambda });
  return rounded.tauRise < rounded.tauDecay ? rounded : null;
}

// New data: remember their suggestion and start at it (a fresh undo history), keeping the filter.
export function startAtSuggestion(state, suggestion) {
  state.suggestion = suggestedParams(suggestion);
  state.suggestionInfo = state.suggestion ? suggestion : null;
  if (!state.suggestion) return false;
  state.params = { ...state.params, ...state.suggestion };
  state.history = new P.History(state.params);
  return true;
}

export class SuggestionMarks {
  constructor(app) {
    this.app = app;
    this.marks = {};
    for (const [name, { id }] of Object.entries(SLIDERS)) this.marks[name] = wrapSlider($(id), name);
    $("suggestion-reset").addEventListener("click", () => this.reset());
    on("data", () => this.show());
    on("params", () => this.highlight());
    this.show();
  }

  // Set rise, decay and lambda back to the suggestion: one undo step, then a re-solve.
  reset() {
    const s = this.app.state.suggestion;
    if (!s || this.app.state.readOnly) return;
    this.app.applyParams({ ...s });
    this.app.toast("Parameters reset to the suggestion.");
  }

  show() {
    const { state } = this.app;
    const s = state.suggestion;
    const info = state.suggestionInfo;
    $("suggestion-box").hidden = !s;
    for (const [name, mark] of Object.entries(this.marks)) {
      mark.hidden = !s;
      if (!s) continue;
      const position = SLIDERS[name].position(s);
      mark.dataset.position = String(position);
      mark.style.setProperty("--at", String(position / P.SLIDER_STEPS));
    }
    if (!s) return;
    $("suggestion-values").textContent = `rise ${P.formatMs(s.tauRise)} ms · `
      + `decay ${P.formatMs(s.tauDecay)} ms · λ ${P.formatNumber(s.lambda, 4)}`;
    const note = $("suggestion-note");
    const reliable = Boolean(info && info.reliable);
    note.hidden = reliable;
    note.textContent = reliable ? "" : "uncertain";
    note.title = reliable ? "" : `The suggestion may be off: ${(info && info.reasons || []).join("; ")
      || "the estimate rests on too little evidence"}.`;
    $("suggestion-box").dataset.reliable = String(reliable);
    $("suggestion-box").title = info
      ? `From calab.suggest_params on ${info.cells_read} cells (${info.cells_active} with clear transients).`
      : "";
    this.highlight();
  }

  // The reset button is quiet while the parameters are at the suggestion.
  highlight() {
    const { state } = this.app;
    const s = state.suggestion;
    const at = Boolean(s) && ["tauRise", "tauDecay", "lambda"].every((k) => state.params[k] === s[k]);
    $("suggestion-box").classList.toggle("at-suggestion", at);
  }
}

// Put a slider in a positioned wrapper with a marker on its track.
function wrapSlider(slider, name) {
  const wrap = document.createElement("div");
  wrap.className = "slider-wrap";
  slider.replaceWith(wrap);
  wrap.appendChild(slider);
  const mark = document.createElement("span");
  mark.className = "suggestion-mark";
  mark.dataset.testid = `suggestion-mark-${name}`;
  mark.setAttribute("aria-hidden", "true");
  mark.title = "Suggested from the data";
  mark.hidden = true;
  wrap.appendChild(mark);
  return mark;
}
