// Keyboard shortcuts of the features (main.js handles the parameters, undo and redo):
// P pins, 1 2 3 switch tabs, [ ] page through cells, ? starts the tour.

export function installKeys(app) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName)) return;
    if (event.target.closest && event.target.closest("dialog[open]")) return;
    const click = (id) => { const el = document.getElementById(id); if (el && !el.disabled) el.click(); };
    const actions = {
      p: () => click("pin"),
      1: () => app.tabs.show("cells"),
      2: () => app.tabs.show("spectrum"),
      3: () => app.tabs.show("metrics"),
      "[": () => click("page-prev"),
      "]": () => click("page-next"),
      "?": () => click("tour-start"),
    };
    const action = actions[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
