// The solve loop: at most one request in flight, always for the newest values.
//
// `request()` marks the view dirty. When no request is in flight one is sent at once for
// the current snapshot (parameters, visible cells, window); when one is in flight, nothing
// is sent until it returns, and then one request for whatever is newest by then. A drag at
// 60 events per second therefore refreshes the cards as fast as the server solves, shows
// every intermediate result, and leaves nothing queued when the slider is released.
//
// Each page load has its own session id, so a reload or a second tab never makes the
// server refuse this page's requests (the server orders request ids per session).

export function newSessionId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `s-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export class SolveLoop {
  // snapshot({final}): {key, body} for the current view, or null when there is nothing to
  // solve; body.draft asks for a quick solve (while dragging) unless final is true.
  // onSent(snap), onResult(result, snap, isLatest), onError(error, snap) update the cards.
  constructor({ bridge, snapshot, onSent, onResult, onError }) {
    this.bridge = bridge;
    this.snapshot = snapshot;
    this.onSent = onSent;
    this.onResult = onResult;
    this.onError = onError;
    this.session = newSessionId();
    this.requestId = 0;
    this.dirty = false;
    this.refine = false;
    this.running = false;
    this.stopped = false;
    this.sent = 0;
    this.refused = 0;
    this.inFlight = 0;
    this.maxInFlight = 0; // the most requests ever in flight at once (1 by design)
  }

  request() {
    if (this.stopped) return;
    this.dirty = true;
    if (!this.running) this.run();
  }

  stop() { this.stopped = true; }

  isLatest(snap) {
    const now = this.snapshot();
    return now !== null && now.key === snap.key;
  }

  async run() {
    this.running = true;
    let refusals = 0;
    try {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        const snap = this.snapshot({ final: this.refine });
        this.refine = false;
        if (!snap) break;
        const outcome = await this.send(snap);
        if (outcome === "refused") {
          if (++refusals > 3) { this.onError(new Error("the server keeps refusing this page's requests"), snap); break; }
          this.dirty = true;
        } else if (outcome === "failed") {
          break;
        } else {
          refusals = 0;
        }
      }
    } finally {
      this.running = false;
    }
  }

  async send(snap) {
    const body = { ...snap.body, request_id: ++this.requestId, session: this.session };
    this.onSent(snap);
    this.sent += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let result;
    try {
      result = await this.bridge.solve(body);
    } catch (error) {
      if (!this.stopped) this.onError(error, snap);
      return "failed";
    } finally {
      this.inFlight -= 1;
    }
    if (this.stopped) return "stopped";
    if (!result) { this.refused += 1; return "refused"; }
    const latest = this.isLatest(snap);
    this.onResult(result, snap, latest);
    // a draft for the values now shown (the slider paused or was released): refine it
    if (latest && snap.body.draft) { this.refine = true; this.dirty = true; }
    return "solved";
  }
}
