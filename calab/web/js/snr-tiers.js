// SNR tiers: each card's SNR badge is coloured by tier (low < 3 <= fair < 8 <= good).

import { snrTier } from "./metrics.js";

export function installSnrTiers() {
  const grid = document.getElementById("grid");
  const mark = () => {
    for (const card of grid.querySelectorAll("[data-testid=cell-card]")) {
      const box = card.querySelector(".card-head .metric b");
      const snr = box ? Number(box.textContent) : NaN;
      const tier = snrTier(snr);
      if (card.dataset.snrTier === tier) continue;
      card.dataset.snrTier = tier;
      const metric = box && box.closest(".metric");
      if (metric) {
        metric.classList.add("snr-badge");
        metric.setAttribute("data-testid", "snr-badge");
        metric.title = `Robust signal-to-noise ratio: ${tier} (tiers: low < 3 ≤ fair < 8 ≤ good)`;
      }
    }
  };
  new MutationObserver(mark).observe(grid, { childList: true, subtree: true, characterData: true });
  mark();
}
