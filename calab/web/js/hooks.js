// A tiny event bus between the core app (main.js) and the feature modules.
//
// main.js emits "params" (after the parameter panel is redrawn) and "data" (a recording was
// loaded); card-watch.js emits "card-fresh" (a card shows a new solution). Feature modules
// subscribe with on().

const listeners = new Map();

export function on(name, listener) {
  if (!listeners.has(name)) listeners.set(name, []);
  listeners.get(name).push(listener);
}

export function emit(name, payload) {
  for (const listener of listeners.get(name) || []) {
    try {
      listener(payload);
    } catch (error) {
      console.error(`calab: a "${name}" listener failed`, error);
    }
  }
}

// Run fn after every redraw of a uPlot chart (mutating u.hooks is honoured by uPlot's fire()).
export function onDraw(chart, fn) {
  chart.hooks.draw = chart.hooks.draw || [];
  chart.hooks.draw.push(fn);
}
