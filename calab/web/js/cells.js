// Which cells the grid shows: the first subset (sorted by SNR or index), cells added by
// index, or every cell of the recording in index order, one page at a time.

export class CellList {
  constructor(metadata) {
    this.total = metadata.total_cells || metadata.cell_indices.length;
    this.snr = new Map(metadata.cell_indices.map((cell, k) => [cell, metadata.snr[k]]));
    this.known = [...metadata.cell_indices];   // subset cells, then cells added by index
    this.hidden = new Set();
    this.sort = "snr";
  }

  get allMode() { return this.sort === "all"; }

  setSnr(cell, value) {
    if (!this.snr.has(cell) && Number.isFinite(value)) this.snr.set(cell, value);
  }

  // The cells in display order (for "all", an index range computed on demand).
  ordered() {
    const cells = this.known.filter((c) => !this.hidden.has(c));
    if (this.sort === "snr") {
      cells.sort((a, b) => (this.snr.get(b) ?? -1) - (this.snr.get(a) ?? -1) || a - b);
    } else {
      cells.sort((a, b) => a - b);
    }
    return cells;
  }

  count() { return this.allMode ? this.total : this.ordered().length; }

  pageCount(perPage) { return Math.max(1, Math.ceil(this.count() / perPage)); }

  page(page, perPage) {
    if (this.allMode) {
      const first = page * perPage;
      const n = Math.max(0, Math.min(perPage, this.total - first));
      return Array.from({ length: n }, (_, k) => first + k);
    }
    return this.ordered().slice(page * perPage, (page + 1) * perPage);
  }

  // Make `cell` visible (adding it to the list if needed); returns the page showing it.
  reveal(cell, perPage) {
    if (this.allMode) return Math.floor(cell / perPage);
    if (!this.known.includes(cell)) this.known.push(cell);
    this.hidden.delete(cell);
    return Math.floor(this.ordered().indexOf(cell) / perPage);
  }

  toggle(cell) {
    if (this.hidden.has(cell)) this.hidden.delete(cell); else this.hidden.add(cell);
    return !this.hidden.has(cell);
  }

  setAll(visible) {
    this.hidden = visible ? new Set() : new Set(this.known);
  }
}

// One toggle chip per listed cell (by original index); onToggle() after a click.
export function renderCellChips(box, list, onToggle) {
  box.innerHTML = "";
  for (const cell of [...list.known].sort((a, b) => a - b)) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip" + (list.hidden.has(cell) ? "" : " on");
    chip.textContent = cell;
    const snr = list.snr.get(cell);
    chip.title = `cell ${cell}` + (Number.isFinite(snr) ? ` · SNR ${snr.toFixed(1)}` : "");
    chip.addEventListener("click", () => {
      chip.classList.toggle("on", list.toggle(cell));
      onToggle();
    });
    box.appendChild(chip);
  }
}
