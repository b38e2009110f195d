// "Export to Python" and "Download": asking first when there is nothing to judge the
// parameters on, and turning the page read-only once Python has the parameters (the
// server then shuts down, so nothing here could be solved or sent any more).

import { downloadName } from "./params.js";

const $ = (id) => document.getElementById(id);

// Resolves true when the user confirms exporting without data, false on cancel.
function confirmWithoutData() {
  const dialog = $("export-confirm-dialog");
  return new Promise((resolve) => {
    const finish = (answer) => {
      $("export-confirm-yes").removeEventListener("click", yes);
      dialog.removeEventListener("close", no);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const yes = () => finish(true);
    const no = () => finish(false);
    $("export-confirm-yes").addEventListener("click", yes);
    dialog.addEventListener("close", no);
    dialog.showModal();
  });
}

// Disable every control that would change parameters or reach the server; say why.
export function enterReadOnly(message) {
  document.body.dataset.exported = "true";
  document.body.classList.add("read-only");
  const keep = new Set(["export-download"]);
  for (const control of document.querySelectorAll(".panel input, .panel select, .panel button, "
    + ".actions button, .overview-head select, .overview-head button, #file-input")) {
    if (!keep.has(control.id)) control.disabled = true;
  }
  const banner = $("readonly-banner");
  banner.querySelector(".text").textContent = message;
  banner.hidden = false;
}

export function bindExport({ bridge, currentExport, hasData, toast, onExported }) {
  $("export-python").addEventListener("click", async () => {
    if (!bridge) { toast("Not connected to Python; use Download instead.", true); return; }
    if (!hasData() && !(await confirmWithoutData())) return;
    try {
      await bridge.sendParams(currentExport());
    } catch (error) {
      toast(`Export failed: ${error.message}`, true);
      return;
    }
    onExported();
    enterReadOnly("Parameters sent to Python, which has stopped the tuning server. This page is "
      + "now read-only; Download still saves the parameters. Run calab tune again to keep tuning.");
  });
  $("export-download").addEventListener("click", () => {
    const blob = new Blob([JSON.stringify(currentExport(), null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = downloadName();
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });
}
