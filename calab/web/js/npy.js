// Minimal .npy reader: little/big-endian ints and floats, C or Fortran order.
// Returns {shape, dtype, rows}: rows is an array of Float64Array, one per row
// of the (n_cells, n_timepoints) matrix (a 1-D array becomes one row).

const TYPES = {
  f8: Float64Array, f4: Float32Array, i8: BigInt64Array, u8: BigUint64Array,
  i4: Int32Array, u4: Uint32Array, i2: Int16Array, u2: Uint16Array, i1: Int8Array, u1: Uint8Array,
};

export function parseNpyHeader(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.slice(1, 6));
  if (bytes[0] !== 0x93 || magic !== "NUMPY") throw new Error("not a .npy file (bad magic)");
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const text = new TextDecoder("latin1").decode(bytes.slice(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(text);
  const order = /'fortran_order':\s*(True|False)/.exec(text);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(text);
  if (!descr || !order || !shape) throw new Error("malformed .npy header: " + text);
  return {
    descr: descr[1],
    fortran: order[1] === "True",
    shape: shape[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number),
    dataOffset: headerStart + headerLength,
  };
}

export function parseNpy(buffer) {
  const header = parseNpyHeader(buffer);
  const endian = header.descr[0];
  const code = header.descr.slice(1);
  const Type = TYPES[code];
  if (!Type) throw new Error(`unsupported .npy dtype ${header.descr}`);
  if (header.shape.length < 1 || header.shape.length > 2) {
    throw new Error(`expected a 1-D or 2-D array, got shape (${header.shape})`);
  }
  const [nRows, nCols] = header.shape.length === 1 ? [1, header.shape[0]] : header.shape;
  const count = nRows * nCols;
  let flat;
  const bigEndian = endian === ">";
  if (!bigEndian && header.dataOffset % Type.BYTES_PER_ELEMENT === 0) {
    flat = new Type(buffer, header.dataOffset, count);
  } else {
    flat = readSwapped(buffer, header.dataOffset, count, code, !bigEndian);
  }
  const rows = [];
  for (let i = 0; i < nRows; i++) {
    const row = new Float64Array(nCols);
    for (let j = 0; j < nCols; j++) {
      row[j] = Number(header.fortran ? flat[j * nRows + i] : flat[i * nCols + j]);
    }
    rows.push(row);
  }
  return { shape: [nRows, nCols], dtype: header.descr, rows };
}

function readSwapped(buffer, offset, count, code, little) {
  const view = new DataView(buffer, offset);
  const size = TYPES[code].BYTES_PER_ELEMENT;
  const getter = {
    f8: "getFloat64", f4: "getFloat32", i8: "getBigInt64", u8: "getBigUint64", i4: "getInt32",
    u4: "getUint32", i2: "getInt16", u2: "getUint16", i1: "getInt8", u1: "getUint8",
  }[code];
  const out = new Float64Array(count);
  for (let k = 0; k < count; k++) out[k] = Number(view[getter](k * size, little));
  return out;
}
