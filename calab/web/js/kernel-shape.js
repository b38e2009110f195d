// Peak time and FWHM of the kernel h(t) = exp(-t/tauDecay) - exp(-t/tauRise), both ways.
// The Python twin is calab.core.kernel.kernel_peak_fwhm / tau_from_peak_fwhm (same algorithm).

const BISECTIONS = 100;
export const MIN_FWHM_PEAK_RATIO = 2.4464;  // the limit tauRise -> tauDecay (alpha function)
const LOG_K_RANGE = [Math.log(1 + 1e-6), Math.log(1e6)];
export const MAX_FWHM_PEAK_RATIO = 50172;  // at tauDecay / tauRise = 1e6

function bisect(h, level, lo, hi, rising) {
  for (let i = 0; i < BISECTIONS; i++) {
    const mid = 0.5 * (lo + hi);
    if ((h(mid) < level) === rising) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// {peakTime, fwhm, before, after} in seconds; before/after are the half-maximum crossings.
export function peakFwhm(tauRise, tauDecay) {
  const h = (t) => Math.exp(-t / tauDecay) - Math.exp(-t / tauRise);
  const peakTime = (Math.log(tauDecay / tauRise) * tauDecay * tauRise) / (tauDecay - tauRise);
  const half = 0.5 * h(peakTime);
  const before = bisect(h, half, 0, peakTime, true);
  const after = bisect(h, half, peakTime, peakTime + 40 * tauDecay, false);
  return { peakTime, fwhm: after - before, before, after };
}

function shapeRatio(k) {
  const { peakTime, fwhm } = peakFwhm(1, k);
  return fwhm / peakTime;
}

// {tauRise, tauDecay} (s) of the kernel with this peak time and FWHM (s); throws a RangeError
// with a readable message when no double exponential has that shape.
export function tauFromPeakFwhm(peakTime, fwhm) {
  if (!(peakTime > 0) || !(fwhm > 0) || !Number.isFinite(peakTime) || !Number.isFinite(fwhm)) {
    throw new RangeError("Peak time and FWHM must be numbers > 0.");
  }
  const ratio = fwhm / peakTime;
  let [lo, hi] = LOG_K_RANGE;
  const maxRatio = shapeRatio(Math.exp(hi));
  if (!(ratio > shapeRatio(Math.exp(lo)) && ratio < maxRatio)) {
    throw new RangeError(`FWHM must be between ${MIN_FWHM_PEAK_RATIO} and ${Math.round(maxRatio)}`
      + ` times the peak time (got ${ratio.toPrecision(3)}×).`);
  }
  for (let i = 0; i < BISECTIONS; i++) {
    const mid = 0.5 * (lo + hi);
    if (shapeRatio(Math.exp(mid)) < ratio) lo = mid; else hi = mid;
  }
  const k = Math.exp(0.5 * (lo + hi));
  const tauRise = peakTime / peakFwhm(1, k).peakTime;
  return { tauRise, tauDecay: k * tauRise };
}
