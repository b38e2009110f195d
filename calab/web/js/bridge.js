// Client of the calab bridge (CaTune bridge protocol v1 + calab's solve routes).

import { parseNpy } from "./npy.js";

export class BridgeError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Bridge {
  constructor(baseUrl, secret) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.secret = secret;
  }

  static fromLocation(location) {
    const query = new URLSearchParams(location.search);
    const base = query.get("bridge");
    const secret = query.get("bridge_secret");
    return base && secret ? new Bridge(base, secret) : null;
  }

  async request(path, { method = "GET", json, body, signal } = {}) {
    const headers = { "X-Bridge-Secret": this.secret };
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    const response = await fetch(this.baseUrl + path, { method, headers, body, signal });
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (await response.json()).error || message;
      } catch (_) { /* not JSON */ }
      throw new BridgeError(response.status, message);
    }
    return response;
  }

  async json(path, options) {
    return (await this.request(path, options)).json();
  }

  metadata() { return this.json("/api/v1/metadata"); }
  status() { return this.json("/api/v1/status"); }
  heartbeat() { return this.json("/api/v1/heartbeat", { method: "POST", json: {} }); }
  sendParams(exportDocument) {
    return this.json("/api/v1/params", { method: "POST", json: exportDocument });
  }

  async traces() {
    const response = await this.request("/api/v1/traces?dtype=float32");
    return parseNpy(await response.arrayBuffer());
  }

  // Returns {header, arrays: [fit, activity, fitted trace]} (Float32Array rows), or null when
  // the server refused it as superseded by a newer request of the same session.
  async solve(request) {
    try {
      const response = await this.request("/api/v1/solve", { method: "POST", json: request });
      return decodeFrame(await response.arrayBuffer());
    } catch (error) {
      if (error instanceof BridgeError && error.status === 409) return null;
      throw error;
    }
  }

  // Min/max envelope of one whole cell: {header: {bin_samples, fs, ...}, arrays: [[low], [high]]}.
  async overview(cell, points) {
    const response = await this.request(`/api/v1/overview?cell=${cell}&points=${points}`);
    return decodeFrame(await response.arrayBuffer());
  }

  upload(name, bytes) {
    const path = `/api/v1/upload?name=${encodeURIComponent(name)}`;
    return this.json(path, { method: "POST", body: bytes });
  }

  activateUpload(choice) {
    return this.json("/api/v1/dataset", { method: "POST", json: choice });
  }
}

// Frame: uint32 LE header length, JSON header, then float32 LE arrays (shapes in header.arrays).
export function decodeFrame(buffer) {
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  let offset = 4 + length;
  const arrays = header.arrays.map(([rows, cols]) => {
    const out = [];
    for (let i = 0; i < rows; i++) {
      out.push(new Float32Array(buffer, offset, cols));
      offset += 4 * cols;
    }
    return out;
  });
  return { header, arrays };
}
