// The page's connection to a training engine: a Hypha server with `pyapp engine` workers registering the
// service "pyapp-trainer" (docs/engine.md has the wire contract). Plain hypha-rpc over one WebSocket to the
// URL the user gave (http://host:port -> ws://host:port/ws); nothing else is contacted.
//   const engine = new EngineClient({log});
//   await engine.connect("http://127.0.0.1:9520", token)  -> {url, host, workspace}
//   await engine.call("status", jobId)                    -> what the service returns; reconnects when dropped
// A dropped WebSocket is first left to hypha-rpc's own reconnection; a call that still fails opens a fresh
// connection (same URL and token) and is tried once more, so a job's dashboard resumes from its id.

const CLIENT_URL = new URL("../hypha/hypha-rpc-websocket.min.mjs", import.meta.url).href;
export const SERVICE_ID = "pyapp-trainer";
export const DEFAULT_ENGINE = "http://127.0.0.1:9520";   // `pyapp engine` on this machine
const CALL_TIMEOUT_S = 120;   // hypha-rpc's own limit on one call (uploads of a few hundred MB take time)
const PROBE_TIMEOUT_MS = 15000;

let hyphaModule = null;
async function hypha() {
  if (!hyphaModule) hyphaModule = await import(CLIENT_URL);
  return hyphaModule;
}

/** A user-given engine address as {url (http[s]://host:port/...), host (host:port)}; Error with one line. */
export function parseEngineUrl(text) {
  const raw = String(text || "").trim();
  if (!raw) throw new Error("enter the engine address, e.g. http://127.0.0.1:9520");
  let url;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new Error(`"${raw}" is not an engine address (expected e.g. http://127.0.0.1:9520)`);
  }
  const scheme = { "ws:": "http:", "wss:": "https:", "http:": "http:", "https:": "https:" }[url.protocol];
  if (!scheme) throw new Error(`"${raw}": an engine address starts with http://, https://, ws:// or wss://`);
  url.protocol = scheme;
  const path = url.pathname.replace(/\/ws\/?$/, "").replace(/\/$/, "");
  return { url: `${url.protocol}//${url.host}${path}`, host: url.host, socket: `${scheme === "https:" ? "wss" : "ws"}://${url.host}${path}/ws` };
}

/** A typed array with its shape as hypha-rpc's ndarray encoding (the Python side receives a numpy array). */
export function ndarray({ data, shape, dtype }) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { _rtype: "ndarray", _rvalue: bytes, _rshape: Array.from(shape, Number), _rdtype: dtype };
}

/** hypha-rpc's ndarray encoding (or a plain object with data/shape/dtype) as {data: TypedArray, shape, dtype}. */
export function fromNdarray(value) {
  if (!value || typeof value !== "object") return null;
  const types = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array,
                  int32: Int32Array, float32: Float32Array, float64: Float64Array };
  const raw = value._rtype === "ndarray" ? value._rvalue : value.data;
  const shape = value._rtype === "ndarray" ? value._rshape : value.shape;
  const dtype = value._rtype === "ndarray" ? value._rdtype : value.dtype;
  const Type = types[dtype];
  if (!raw || !shape || !Type) return null;
  const bytes = raw instanceof ArrayBuffer ? new Uint8Array(raw) : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  const copy = bytes.slice();  // aligned for the typed array view
  return { data: new Type(copy.buffer), shape: Array.from(shape, Number), dtype };
}

/** The job's status as plain JS: lists of numbers, the sample's planes as {data, shape, dtype}. */
export function plainStatus(raw) {
  const st = { ...(raw || {}) };
  for (const key of Object.keys(st)) if (key.startsWith("_r")) delete st[key];
  if (st.sample) {
    const one = fromNdarray(st.sample);
    const planes = Object.entries(st.sample).filter(([k]) => !k.startsWith("_r")).map(([k, v]) => [k, fromNdarray(v)]);
    st.sample = one || Object.fromEntries(planes.filter(([, v]) => v));
  }
  st.step = Number(st.step || 0);
  st.total_steps = Number(st.total_steps || 0);
  st.losses = Array.from(st.losses || []);
  st.val_metrics = Array.from(st.val_metrics || []);
  return st;
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function firstLine(err) {
  const text = (err && (err.message || String(err))) || "unknown error";
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines[lines.length - 1] : text;
}

/** Words for a biologist about a failed connection; the technical line goes to the log. */
export function connectionProblem(err, where) {
  const text = firstLine(err);
  if (/permission|token|unauthori[sz]ed|forbidden|expired|jwt/i.test(text)) {
    return `The engine at ${where} refused the access token. Copy the token that pyapp engine printed.`;
  }
  if (/not found|no service|Service .* not|Multiple services/i.test(text) && /pyapp-trainer|service/i.test(text)) {
    return `${where} is running, but no training worker is attached to it yet. Start pyapp engine (or a worker).`;
  }
  return `Cannot reach a training engine at ${where}. Is pyapp engine running there?`;
}

export class EngineClient {
  constructor({ log = () => {}, onState = () => {} } = {}) {
    this.log = log;
    this.onState = onState;   // ("connected" | "reconnecting" | "disconnected", detail)
    this.server = null;
    this.service = null;
    this.target = null;       // {url, host, socket}
    this.token = "";
    this.reconnecting = null;
  }

  get connected() { return !!this.service; }

  /** Connect to the engine at `url` with `token`; resolves {url, host, workspace}; Error for the user. */
  async connect(url, token) {
    const target = parseEngineUrl(url);
    await this.close();
    this.target = target;
    this.token = String(token || "").trim();
    try {
      await this.open();
    } catch (err) {
      this.log(`engine: connecting to ${target.socket} failed: ${firstLine(err)}`);
      this.target = null;
      throw new Error(connectionProblem(err, target.host), { cause: err });
    }
    return { url: target.url, host: target.host, socket: target.socket, workspace: this.workspace };
  }

  async open() {
    const { connectToServer } = await hypha();
    const t0 = performance.now();
    const warn = (...parts) => {
      const text = parts.map(String).join(" ");
      this.log(`engine: ${text}`);
      // hypha-rpc reconnects a dropped socket by itself and says so in its log; tell the dashboard at once
      if (this.server && /closed unexpectedly|closed gracefully|Reconnecting to/i.test(text)) this.onState("reconnecting", text);
    };
    const server = await connectToServer({
      server_url: this.target.url, token: this.token || undefined, method_timeout: CALL_TIMEOUT_S,
      name: "pyapp page", logger: { log() {}, info() {}, debug() {}, warn, error: warn },
    });
    try {
      this.service = await this.findService(server);
    } catch (err) {
      await server.disconnect().catch(() => {});
      throw err;
    }
    this.server = server;
    this.workspace = server.config && server.config.workspace;
    server.rpc.on("connected", () => {   // hypha-rpc fires it after each reconnection of this socket
      if (this.server === server) this.onState("connected", this.target.host);
    });
    this.log(`engine: connected to ${this.target.socket} (workspace ${this.workspace}) in ${Math.round(performance.now() - t0)} ms`);
    this.onState("connected", this.target.host);
  }

  async findService(server) {
    // several workers may register the service: any one will do, they share the job store (docs/engine.md)
    return await server.getService(SERVICE_ID, { mode: "random" });
  }

  /** Drop the connection (the server keeps running jobs). */
  async close() {
    const server = this.server;
    this.server = null;
    this.service = null;
    if (server) await server.disconnect().catch(() => {});
  }

  /** After a failed call: when hypha-rpc has the socket open again, get the service anew (the worker it was
   * bound to may be gone); else open a fresh connection. Concurrent callers share one attempt. */
  async recover() {
    if (!this.target) throw new Error("not connected to a training engine");
    if (!this.reconnecting) {
      this.onState("reconnecting", this.target.host);
      this.reconnecting = (async () => {
        const server = this.server;
        if (server && socketOpen(server)) {
          try {
            this.service = await withTimeout(this.findService(server), PROBE_TIMEOUT_MS, "getService");
            this.onState("connected", this.target.host);
            return;
          } catch (err) {
            this.log(`engine: getting ${SERVICE_ID} again failed (${firstLine(err)}); opening a new connection`);
          }
        }
        this.server = null;
        this.service = null;
        if (server) server.disconnect().catch(() => {});
        await this.open();
      })().finally(() => { this.reconnecting = null; });
    }
    return this.reconnecting;
  }

  /** Call `method` of the trainer service. A call that fails for connection reasons is repeated once after
   * recover() unless `retry` is false (start_training: a repeat could start the job twice). `timeoutMs` bounds
   * a short query (e.g. status) so a silent socket is noticed. Errors the service raised come back as one line. */
  async call(method, args = [], { timeoutMs = 0, retry = true } = {}) {
    if (!this.target) throw new Error("connect to a training engine first");
    if (this.reconnecting) await this.reconnecting.catch(() => {});
    if (!this.service) await this.recover();
    const attempt = async () => {
      const promise = this.service[method](...args);
      try {
        return await (timeoutMs ? withTimeout(promise, timeoutMs, method) : promise);
      } catch (err) {
        if (isConnectionError(err)) throw err;
        this.log(`engine: ${method} failed: ${String((err && err.message) || err).split("\n").slice(0, 3).join(" | ")}`);
        throw new Error(serviceMessage(err), { cause: err });
      }
    };
    try {
      return await attempt();
    } catch (err) {
      if (!retry || !isConnectionError(err)) throw err;
      this.log(`engine: ${method} failed (${firstLine(err)}); reconnecting`);
      await this.recover();
      return await attempt();
    }
  }

  /** A quick round trip: rejects when the engine does not answer within a few seconds. */
  async probe() {
    return this.call("list_jobs", [], { timeoutMs: PROBE_TIMEOUT_MS, retry: false });
  }
}

function socketOpen(server) {
  const connection = server.rpc && server.rpc._connection;
  return !!(connection && connection._websocket && connection._websocket.readyState === 1);
}

/** True for failures of the transport (closed socket, timeouts, a vanished worker: "Client disconnected"),
 * false for errors the service raised ("RemoteError:<one line>" + traceback). */
export function isConnectionError(err) {
  const text = String((err && (err.message || err)) || "");
  if (/Client disconnected/i.test(text)) return true;
  if (/RemoteError|Traceback/.test(text)) return false;
  return /websocket|connection|disconnect|closed|no answer within|timeout|timed out|Session not found|not connected/i.test(text);
}

/** The line of a service error meant for the user: the first line, without hypha-rpc's "RemoteError:". */
export function serviceMessage(err) {
  const text = String((err && (err.message || err)) || "unknown error");
  const first = text.split("\n").map((l) => l.trim()).find(Boolean) || text;
  return first.replace(/^(Error:\s*)?RemoteError:\s*/, "");
}
