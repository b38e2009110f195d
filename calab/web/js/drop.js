// Dropped or chosen .npy/.npz files: upload to the local server, confirm, activate.

const $ = (id) => document.getElementById(id);

export function setupDrop({ bridge, currentFs, onLoaded, toast, maxBytes = () => null }) {
  const dialog = $("drop-dialog");
  let pending = null;

  async function handleFile(file) {
    if (!bridge) { toast("Not connected to a calab server; start one with `calab app`.", true); return; }
    if (!/\.(npy|npz)$/i.test(file.name)) { toast(`${file.name}: only .npy and .npz files are supported`, true); return; }
    const limit = maxBytes();
    if (limit && file.size > limit) { toast(tooLargeMessage(file, limit), true); return; }
    try {
      toast(`Reading ${file.name}…`);
      const description = await bridge.upload(file.name, await file.arrayBuffer());
      pending = description;
      openDialog(description);
    } catch (error) {
      toast(`${file.name}: ${error.message}`, true);
    }
  }

  function openDialog(description) {
    $("drop-name").textContent = description.name;
    const select = $("drop-key");
    select.innerHTML = "";
    for (const a of description.arrays) {
      const option = document.createElement("option");
      option.value = a.key;
      option.textContent = `${a.key} (${a.shape.join(" × ")}, ${a.dtype})`;
      select.appendChild(option);
    }
    $("drop-key-row").hidden = description.arrays.length < 2;
    $("drop-fs").value = String(currentFs() || 30);
    $("drop-error").textContent = "";
    describeChoice();
    if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
  }

  function chosenArray() {
    return pending.arrays.find((a) => a.key === $("drop-key").value) || pending.arrays[0];
  }

  function describeChoice(suggestLayout = true) {
    const array = chosenArray();
    const shape = array.shape.length === 1 ? [1, array.shape[0]] : array.shape;
    $("drop-shape").textContent = array.shape.join(" × ");
    $("drop-dtype").textContent = array.dtype;
    if (suggestLayout) {
      const timeFirst = shape[0] > shape[1];
      document.querySelector(`input[name=layout][value=${timeFirst ? "time" : "cells"}]`).checked = true;
    }
    const transpose = document.querySelector("input[name=layout]:checked").value === "time";
    const [cells, time] = transpose ? [shape[1], shape[0]] : shape;
    const fs = Number($("drop-fs").value) || 0;
    const duration = fs > 0 ? ` (${(time / fs).toFixed(1)} s)` : "";
    $("drop-dims").textContent = `${cells} cells × ${time} time points${duration}`;
  }

  $("drop-key").addEventListener("change", () => describeChoice());
  $("drop-fs").addEventListener("input", () => describeChoice(false));
  document.querySelectorAll("input[name=layout]").forEach((radio) =>
    radio.addEventListener("change", () => describeChoice(false)));

  $("drop-confirm").addEventListener("click", async () => {
    const fs = Number($("drop-fs").value);
    if (!(fs > 0)) { $("drop-error").textContent = "Sampling rate must be a number > 0 Hz."; return; }
    const transpose = document.querySelector("input[name=layout]:checked").value === "time";
    try {
      const metadata = await bridge.activateUpload({ key: chosenArray().key, fs, transpose });
      dialog.close();
      await onLoaded(metadata);
    } catch (error) {
      $("drop-error").textContent = error.message;
    }
  });

  $("file-input").addEventListener("change", (event) => {
    const file = event.target.files && event.target.files[0];
    if (file) handleFile(file);
    event.target.value = "";
  });
  window.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) document.body.classList.remove("dragging");
  });
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) handleFile(file);
  });
}

// A file larger than the server accepts is refused before a byte of it is read.
export function tooLargeMessage(file, limit) {
  const size = file.size >= 1e9 ? `${(file.size / 1e9).toFixed(1)} GB` : `${Math.round(file.size / 1e6)} MB`;
  return `${file.name} is ${size}, more than a browser tab reads (limit ${Math.round(limit / 2 ** 20)} MB). `
    + `Open it from a terminal instead, read lazily: calab tune ${file.name} --fs HZ`;
}
