// Dropped files: sampling-rate presets and a validation summary (shape, range, NaN/inf per
// cell and what loading will do about them), fetched from POST /api/v1/upload/summary.

const $ = (id) => document.getElementById(id);
const PRESETS = ["10", "15", "30", "60"];

export function installDropValidation(app) {
  const dialog = $("drop-dialog");
  const preset = $("fs-preset");
  const syncPreset = () => {
    const value = String(Number($("drop-fs").value));
    preset.value = PRESETS.includes(value) ? value : "custom";
    document.body.classList.toggle("fs-custom-shown", preset.value === "custom");
  };
  preset.addEventListener("change", () => {
    if (preset.value !== "custom") {
      $("drop-fs").value = preset.value;
      $("drop-fs").dispatchEvent(new Event("input", { bubbles: true }));
    } else {
      $("drop-fs").focus();
      $("drop-fs").select();
    }
  });
  $("drop-fs").addEventListener("input", syncPreset);

  let asked = 0;
  const summarize = async () => {
    const id = ++asked;
    const box = $("drop-summary");
    box.dataset.state = "loading";
    box.textContent = "Checking the values…";
    const transpose = document.querySelector("input[name=layout]:checked").value === "time";
    try {
      const summary = await app.bridge.json("/api/v1/upload/summary", { method: "POST",
        json: { key: $("drop-key").value || undefined, transpose } });
      if (id !== asked) return;
      renderSummary(box, summary);
      box.dataset.state = "ready";
    } catch (error) {
      if (id !== asked) return;
      box.dataset.state = "error";
      box.textContent = `Could not check the values: ${error.message}`;
    }
  };
  new MutationObserver(() => {
    if (!dialog.open) return;
    syncPreset();
    summarize();
  }).observe(dialog, { attributes: true, attributeFilter: ["open"] });
  $("drop-key").addEventListener("change", summarize);
  document.querySelectorAll("input[name=layout]").forEach((radio) => radio.addEventListener("change", summarize));
}

function renderSummary(box, s) {
  const range = s.min === null ? "no finite values" : `values ${fmt(s.min)} … ${fmt(s.max)}`;
  const lines = [`<p><b>${s.shape[0]} cells × ${s.shape[1]} time points</b> (${s.dtype}), ${range}.</p>`];
  if (!s.cells_with_gaps) {
    lines.push(`<p class="ok" data-testid="drop-summary-clean">No NaN or Inf values.</p>`);
  } else {
    lines.push(`<p class="warn">NaN: ${s.nan_total}, Inf: ${s.inf_total} in ${s.cells_with_gaps} of ${s.shape[0]} cells`
      + (s.cells_without_data ? ` (${s.cells_without_data} without any finite value)` : "") + ".</p>");
    const rows = s.cells.map((c) => `<tr data-testid="drop-summary-cell" data-cell="${c.cell}"><td>cell ${c.cell}</td>`
      + `<td>${c.nan} NaN</td><td>${c.inf} Inf</td><td>${c.action}</td></tr>`);
    lines.push(`<table><tbody>${rows.join("")}</tbody></table>`);
    if (s.cells_with_gaps > s.cells_listed) lines.push(`<p>… and ${s.cells_with_gaps - s.cells_listed} more cells.</p>`);
  }
  box.innerHTML = lines.join("");
}

function fmt(value) {
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? value.toExponential(3) : String(Number(value.toPrecision(5)));
}
