// A short guided tour of the tuning workflow; offered once, skippable, remembered.

const KEY = "calab.tour";
const STEPS = [
  { target: "#dataset-info", title: "1 · Load traces",
    text: "Open a recording with `calab tune FILE` or `calab.tune(traces, fs)`, drop a .npy/.npz here, or try the demo data. Cells × time points; you confirm the sampling rate." },
  { target: ".panel section.group:first-of-type", title: "2 · Shape the kernel",
    text: "The app starts at values suggested from the data (the orange marks on the sliders; Reset to suggestion returns to them). Set rise and decay times (or peak time and FWHM) until the orange fit follows the transients' rise and fall. The kernel plot shows the shape, with its peak and FWHM marked." },
  { target: "#lambda", title: "3 · Choose the sparsity",
    text: "λ trades detail for sparsity: raise it until noise no longer produces activity, but keep real events. ↑ ↓ nudge it." },
  { target: "#grid .chart-residual|#grid", title: "4 · Check the residuals",
    text: "The bottom band of each card is trace minus fit. It should look like noise; transient-shaped bumps left there mean the kernel or λ is off." },
  { target: "#cell-goto, #sort-cells", title: "5 · Look at other cells",
    text: "Page through cells, sort them by SNR, go to any cell by its index; the Metrics tab lists R², sparsity and event rate for every loaded cell." },
  { target: "#compare-group", title: "6 · Pin and compare",
    text: "Pin the current parameters, try others, and compare: pinned fits stay on the cards as dashed lines with the change in R², SNR and sparsity." },
  { target: "#export-python", title: "7 · Export",
    text: "Export to Python returns the parameters to calab.tune (or prints them for calab tune); Download saves a CaTune export JSON you can resume from later." },
];

export class Tour {
  constructor() {
    this.step = -1;
    this.box = document.getElementById("tour");
    document.getElementById("tour-start").addEventListener("click", () => this.start());
    document.getElementById("tour-next").addEventListener("click", () => this.go(this.step + 1));
    document.getElementById("tour-back").addEventListener("click", () => this.go(this.step - 1));
    document.getElementById("tour-skip").addEventListener("click", () => this.finish("skipped"));
    document.getElementById("tour-offer-start").addEventListener("click", () => this.start());
    document.getElementById("tour-offer-dismiss").addEventListener("click", () => this.finish("skipped"));
    document.addEventListener("keydown", (event) => {
      if (this.step >= 0 && event.key === "Escape") this.finish("skipped");
    });
    document.getElementById("tour-offer").hidden = this.remembered() !== null;
  }

  remembered() {
    try { return localStorage.getItem(KEY); } catch (_) { return "unavailable"; }
  }

  start() {
    document.getElementById("tour-offer").hidden = true;
    this.go(0);
  }

  go(step) {
    if (step >= STEPS.length) { this.finish("done"); return; }
    this.step = Math.max(0, step);
    const s = STEPS[this.step];
    document.querySelectorAll(".tour-target").forEach((e) => e.classList.remove("tour-target"));
    const target = s.target.split("|").map((query) => document.querySelector(query)).find(Boolean);
    if (target) {
      target.classList.add("tour-target");
      target.scrollIntoView({ block: "nearest" });
    }
    this.box.querySelector(".tour-title").textContent = s.title;
    this.box.querySelector(".tour-text").textContent = s.text;
    this.box.querySelector(".tour-count").textContent = `${this.step + 1} of ${STEPS.length}`;
    this.box.dataset.step = String(this.step + 1);
    document.getElementById("tour-back").disabled = this.step === 0;
    document.getElementById("tour-next").textContent = this.step === STEPS.length - 1 ? "Finish" : "Next";
    this.box.hidden = false;
    this.place(target);
    document.getElementById("tour-next").focus();
  }

  // Beside the target when there is room, else at the bottom right.
  place(target) {
    const box = this.box;
    for (const side of ["left", "top", "right", "bottom"]) box.style[side] = "";
    if (!target) return;
    const r = target.getBoundingClientRect();
    const w = box.offsetWidth; const h = box.offsetHeight;
    let left = r.right + 12;
    if (left + w > window.innerWidth - 8) left = Math.max(8, r.left - w - 12);
    const top = Math.min(Math.max(8, r.top), window.innerHeight - h - 8);
    Object.assign(box.style, { left: `${left}px`, top: `${top}px`, right: "auto", bottom: "auto" });
  }

  finish(outcome) {
    this.step = -1;
    this.box.hidden = true;
    document.getElementById("tour-offer").hidden = true;
    document.querySelectorAll(".tour-target").forEach((e) => e.classList.remove("tour-target"));
    try { localStorage.setItem(KEY, outcome); } catch (_) { /* storage off */ }
  }
}
