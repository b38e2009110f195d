// Tabs of the main column: the cells (overview and cards), the spectrum, the metrics table.

import { emit } from "./hooks.js";

const TABS = ["cells", "spectrum", "metrics"];

export function installTabs() {
  const buttons = TABS.map((name) => document.querySelector(`[data-testid=tab-${name}]`));
  const show = (name) => {
    if (!TABS.includes(name)) name = "cells";
    document.body.dataset.tab = name;
    buttons.forEach((button, k) => {
      const on = TABS[k] === name;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
    });
    for (const other of TABS) {
      const panel = document.getElementById(`panel-${other}`);
      if (panel) panel.hidden = other !== name;
    }
    document.getElementById("grid").hidden = name !== "cells";
    document.getElementById("overview-box").classList.toggle("tab-hidden", name !== "cells");
    emit("tab", name);
  };
  buttons.forEach((button, k) => {
    button.addEventListener("click", () => show(TABS[k]));
    button.addEventListener("keydown", (event) => {  // arrow keys move between tabs
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const next = (k + step + TABS.length) % TABS.length;
      show(TABS[next]);
      buttons[next].focus();
    });
  });
  show("cells");
  return { show, current: () => document.body.dataset.tab };
}
