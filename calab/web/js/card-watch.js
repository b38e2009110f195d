// Watches the cell cards: emits "card-fresh" with what a card shows whenever it turns fresh.
//
// Payload: {card, element, cellIndex, x (s), trace, fit, activity} read from the card's charts,
// so feature modules need nothing from the solve loop itself.

import { emit } from "./hooks.js";

export function watchCards(app) {
  const grid = document.getElementById("grid");
  const observer = new MutationObserver((mutations) => {
    const fresh = new Set();
    for (const m of mutations) {
      if (m.type === "attributes" && m.target.dataset.state === "fresh") fresh.add(m.target);
    }
    for (const element of fresh) report(app, element);
  });
  observer.observe(grid, { attributes: true, subtree: true, attributeFilter: ["data-state"] });
}

export function cardFor(app, element) {
  for (const card of app.state.cards.values()) if (card.element === element) return card;
  return null;
}

// What a card shows now, or null when it has no solution yet.
export function cardContent(card) {
  if (!card || !card.charts) return null;
  const [x, trace, fit] = card.charts.trace.data;
  const activity = card.charts.activity.data[1];
  if (!x || !x.length || !fit || fit[0] === null || fit[0] === undefined) return null;
  return { card, element: card.element, cellIndex: Number(card.element.dataset.cellIndex),
    x, trace, fit, activity };
}

function report(app, element) {
  const content = cardContent(cardFor(app, element));
  if (content) emit("card-fresh", content);
}

export function freshCards(app) {
  return [...app.state.cards.values()]
    .filter((card) => card.element.dataset.state === "fresh")
    .map(cardContent).filter(Boolean);
}
