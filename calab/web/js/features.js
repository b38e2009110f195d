// Installs the feature modules on the core app (main.js passes its small API in).
//
// app: {state, bridge, kernelPlot, toast, setParams, applyParams, focusCell, rebuildGrid,
//       loadData, windowBounds, moveWindow}

import { watchCards } from "./card-watch.js";
import { installKernelMode } from "./kernel-mode.js";
import { Pins } from "./pins.js";

export function installFeatures(app) {
  window.calab = window.calab || {};
  window.calab.app = app;
  watchCards(app);
  installKernelMode(app);
  app.pins = new Pins(app);
}
