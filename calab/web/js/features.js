// Installs the feature modules on the core app (main.js passes its small API in).
//
// app: {state, bridge, kernelPlot, toast, setParams, applyParams, focusCell, rebuildGrid,
//       loadData, windowBounds, moveWindow, solverIdle}

import { watchCards } from "./card-watch.js";
import { CardSize } from "./card-size.js";
import { installZoomLink } from "./card-zoom.js";
import { Demo } from "./demo.js";
import { installDropValidation } from "./drop-validate.js";
import { installKernelMode } from "./kernel-mode.js";
import { MetricsTab } from "./metrics-tab.js";
import { installKeys } from "./keys.js";
import { Persistence } from "./persist.js";
import { Pins } from "./pins.js";
import { installSnrTiers } from "./snr-tiers.js";
import { SpectrumTab } from "./spectrum.js";
import { SuggestionMarks } from "./suggestion.js";
import { installTabs } from "./tabs.js";
import { Tour } from "./tour.js";

export function installFeatures(app) {
  window.calab = window.calab || {};
  window.calab.app = app;
  watchCards(app);
  installKernelMode(app);
  app.pins = new Pins(app);
  app.spectrum = new SpectrumTab(app);
  app.metrics = new MetricsTab(app);
  app.tabs = installTabs();
  installSnrTiers();
  app.cardSize = new CardSize(app);
  installZoomLink(app);
  app.tour = new Tour();
  installKeys(app);
  app.suggestion = new SuggestionMarks(app);
  app.persistence = new Persistence(app);  // last: restores what the others show
  if (app.bridge) {
    installDropValidation(app);
    app.demo = new Demo(app);
  }
}
