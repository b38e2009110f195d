// The connection badge and the heartbeat that keeps tune() waiting while the page is open.

const $ = (id) => document.getElementById(id);
const HEARTBEAT_MS = 3000;

export function setConnected(connected, text) {
  const box = $("connection");
  box.dataset.connected = String(connected);
  box.querySelector(".text").textContent = text;
}

// Beat from a dedicated worker (not throttled in a hidden tab), else from the page itself.
export function startHeartbeat(bridge) {
  const report = (ok) => setConnected(ok, ok ? "connected to calab" : "calab server unreachable");
  try {
    const worker = new Worker(new URL("./heartbeat-worker.js", import.meta.url), { type: "module" });
    worker.onmessage = (event) => report(event.data.ok);
    worker.postMessage({ url: `${bridge.baseUrl}/api/v1/heartbeat`, secret: bridge.secret, intervalMs: HEARTBEAT_MS });
  } catch (_) {
    const beat = () => bridge.heartbeat().then(() => report(true), () => report(false));
    beat();
    setInterval(beat, HEARTBEAT_MS);
  }
}
