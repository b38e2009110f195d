// Keyboard for the parameters: ← → decay time, Shift+← → rise time, ↓ ↑ λ, F filter,
// Ctrl+Z undo, Ctrl+Shift+Z or Ctrl+Y redo (keys.js has the features' shortcuts).

import * as P from "./params.js";

export function bindParamKeys({ state, setParams, undo, redo }) {
  document.addEventListener("keydown", (event) => {
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && (key === "z" || key === "y")) {
      if (event.target.tagName !== "INPUT") {
        event.preventDefault();
        if (key === "y" || event.shiftKey) redo(); else undo();
      }
      return;
    }
    if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
    const p = state.params;
    const step = 1.05;
    const nudges = {
      ArrowRight: event.shiftKey ? { tauRise: p.tauRise * step } : { tauDecay: p.tauDecay * step },
      ArrowLeft: event.shiftKey ? { tauRise: p.tauRise / step } : { tauDecay: p.tauDecay / step },
      ArrowUp: { lambda: p.lambda > 0 ? p.lambda * 1.1 : 0.01 },
      ArrowDown: { lambda: p.lambda > 0.0011 ? p.lambda / 1.1 : 0 },
    };
    if (event.key.toLowerCase() === "f") { setParams({ filter: !p.filter }); return; }
    const change = nudges[event.key];
    if (!change) return;
    event.preventDefault();
    for (const k of Object.keys(change)) {
      change[k] = k === "lambda" ? P.tidy(change[k]) : P.tidy(change[k] * 1000) / 1000;
    }
    setParams(change, { edited: "tauRise" in change ? "rise" : "decay" });
  });
}
