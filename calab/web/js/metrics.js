// Per-cell quality figures of a solution, computed from what a card shows.

// {r2, snr, sparsity, eventRate}: R² = 1 - var(trace - fit)/var(trace); SNR = std(fit) /
// std(trace - fit) (how far the fitted signal stands above what is left); sparsity = share of
// time points with zero activity; event rate = activity onsets per second.
export function cellMetrics(x, trace, fit, activity) {
  const n = Math.min(trace.length, fit.length);
  let sy = 0; let sf = 0; let sr = 0; let count = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(trace[i]) || !Number.isFinite(fit[i])) continue;
    sy += trace[i]; sf += fit[i]; sr += trace[i] - fit[i]; count += 1;
  }
  const my = sy / count; const mf = sf / count; const mr = sr / count;
  let vy = 0; let vf = 0; let vr = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(trace[i]) || !Number.isFinite(fit[i])) continue;
    vy += (trace[i] - my) ** 2; vf += (fit[i] - mf) ** 2; vr += (trace[i] - fit[i] - mr) ** 2;
  }
  const seconds = x.length > 1 ? (x[x.length - 1] - x[0]) * (x.length / (x.length - 1)) : 1;
  return {
    r2: vy > 0 ? 1 - vr / vy : 0,
    snr: vr > 0 ? Math.sqrt(vf / vr) : Infinity,
    sparsity: sparsity(activity),
    eventRate: onsets(activity) / seconds,
  };
}

function threshold(activity) {
  let peak = 0;
  for (const v of activity) if (v > peak) peak = v;
  return peak * 1e-3;
}

export function sparsity(activity) {
  const level = threshold(activity);
  let zeros = 0;
  for (const v of activity) if (!(v > level)) zeros += 1;
  return activity.length ? zeros / activity.length : 1;
}

// Runs of non-zero activity (an event spanning several samples counts once).
export function onsets(activity) {
  const level = threshold(activity);
  let count = 0;
  let active = false;
  for (const v of activity) {
    const on = v > level;
    if (on && !active) count += 1;
    active = on;
  }
  return count;
}

export function meanMetrics(list) {
  const keys = ["r2", "snr", "sparsity", "eventRate"];
  const out = {};
  for (const k of keys) {
    const values = list.map((m) => m[k]).filter(Number.isFinite);
    out[k] = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  }
  return out;
}

// SNR tier of a cell's (data) SNR, for badge colours: "low" < 3 <= "fair" < 8 <= "good".
export function snrTier(snr) {
  if (!Number.isFinite(snr)) return "unknown";
  return snr >= 8 ? "good" : snr >= 3 ? "fair" : "low";
}
