// The rpc codec, JS side (the wire format of pyapp/rpc/codec.py; shared vectors in tests/data/rpc_vectors.json).
//   pack(value, {register}) -> {header: JSON text, buffers: [ArrayBuffer]}; unpack(header, buffers, {makeProxy})
//   encode/decode: the same without the {"v", "n"} envelope. NDArray, RemoteError, CodecError.
// Limits (as the Python codec): data nests at most MAX_DEPTH arrays/objects; no object key names a property of
// Object.prototype (FORBIDDEN_KEYS); _rshape is at most MAX_NDIM integers 0..MAX_DIM. Every refusal, and every
// malformed message, throws CodecError and nothing else (tests/test_js_codec_fuzz.py checks this through node).

export const MAX_DEPTH = 64;
/** Marks a decoded `interface` (a non-enumerable symbol key), so that it is sent on as one. */
export const INTERFACE = Symbol("pyapp.interface");
export const MAX_NDIM = 32;
export const MAX_DIM = 2 ** 31 - 1;
export const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "toString", "toLocaleString", "valueOf",
  "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable", "__defineGetter__", "__defineSetter__",
  "__lookupGetter__", "__lookupSetter__"]);

const WIRE_VERSION = 1;
const MAX_SAFE = 2 ** 53;
const TYPED = {
  bool: Uint8Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  float16: typeof globalThis.Float16Array === "function" ? globalThis.Float16Array : Uint16Array,
  float32: Float32Array, float64: Float64Array, complex64: Float32Array, complex128: Float64Array,
};
const ITEMSIZE = { bool: 1, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8,
  float16: 2, float32: 4, float64: 8, complex64: 8, complex128: 16 };
const DTYPE_OF = new Map([[Int8Array, "int8"], [Int16Array, "int16"], [Int32Array, "int32"],
  [BigInt64Array, "int64"], [Uint8Array, "uint8"], [Uint8ClampedArray, "uint8"], [Uint16Array, "uint16"],
  [Uint32Array, "uint32"], [BigUint64Array, "uint64"], [Float32Array, "float32"], [Float64Array, "float64"]]);

/** An n-dimensional array on the JS side: a typed array (C order) with its shape and numpy dtype name. */
export class NDArray {
  constructor(data, shape, dtype) {
    this.data = data;
    this.shape = shape ? Array.from(shape) : [data.length];
    this.dtype = dtype || DTYPE_OF.get(data.constructor);
    if (!this.dtype) throw new TypeError(`no dtype for a ${data.constructor.name}`);
  }
}

/** A remote error as the codec carries it; its message is the traceback's last line. */
export class RemoteError extends Error {
  constructor(typeName, message, traceback = "") {
    super(`${typeName}: ${message}`);
    this.name = "RemoteError";
    this.typeName = typeName;
    this.remoteMessage = message;
    this.remoteTraceback = traceback;
  }
}

/** Raised by encode/decode for values or messages outside the wire format; .path says where. */
export class CodecError extends Error {
  constructor(message, path = "") {
    super(path ? `${path}: ${message}` : message);
    this.name = "CodecError";
    this.path = path;
  }
}

function isPlainObject(v) {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// The bytes of a typed array as one ArrayBuffer of exactly its size: its own buffer when it spans all of it
// (transferred, no copy), else a copy of the slice.
function ownBuffer(view) {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength &&
      !(typeof SharedArrayBuffer === "function" && view.buffer instanceof SharedArrayBuffer)) return view.buffer;
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
}

/**
 * Encode a JS value into {data, buffers} (the wire format of pyapp/rpc/codec.py). Functions need
 * register(fn) -> id. NDArray and typed arrays become ndarrays, ArrayBuffer becomes bytes, Error becomes error.
 */
export function encode(value, { register = null, root = "value" } = {}) {
  const buffers = [];
  const active = new Set();
  const add = (view) => { buffers.push(ownBuffer(view)); return buffers.length - 1; };
  const ndarray = (data, shape, dtype) => ({ _rtype: "ndarray", _rvalue: add(data), _rshape: Array.from(shape), _rdtype: dtype });
  function enc(v, path) {
    if (v === null || v === undefined || typeof v === "boolean" || typeof v === "string") return v ?? null;
    if (typeof v === "number") {
      if (Number.isFinite(v)) return v;
      return { _rtype: "float", _rvalue: Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf" };
    }
    if (typeof v === "bigint") {
      return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : { _rtype: "int", _rvalue: v.toString() };
    }
    if (typeof v === "function") {
      if (!register) throw new CodecError("cannot send a function without a registry", path);
      return { _rtype: "method", _rvalue: register(v), _rname: v.name || "function" };
    }
    if (v instanceof NDArray) {
      checkShape(v.shape, path);
      const size = v.shape.reduce((a, b) => a * b, 1) * ITEMSIZE[v.dtype];
      if (!(v.dtype in ITEMSIZE)) throw new CodecError(`unknown dtype ${v.dtype}`, path);
      if (v.data.byteLength !== size) {
        throw new CodecError(`data has ${v.data.byteLength} bytes, shape ${JSON.stringify(v.shape)} of ${v.dtype} needs ${size}`, path);
      }
      return ndarray(v.data, v.shape, v.dtype);
    }
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const dtype = DTYPE_OF.get(v.constructor);
      if (!dtype) throw new CodecError(`cannot send a ${v.constructor.name}`, path);
      return ndarray(v, [v.length], dtype);
    }
    if (v instanceof ArrayBuffer) return { _rtype: "bytes", _rvalue: add(new Uint8Array(v)) };
    if (v instanceof DataView) return { _rtype: "bytes", _rvalue: add(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
    if (v instanceof Error) {
      const typeName = v instanceof RemoteError ? v.typeName : v.name || "Error";
      const message = v instanceof RemoteError ? v.remoteMessage : v.message;
      return { _rtype: "error", _rvalue: String(message), _rname: typeName, _rtraceback: v.remoteTraceback || v.stack || "" };
    }
    if (isPlainObject(v) && v[INTERFACE]) {
      const members = {};
      for (const [k, fn] of Object.entries(v)) {
        if (typeof fn !== "function") throw new CodecError(`interface member ${JSON.stringify(k)} is not a function`, path);
        members[checkKey(k, path)] = enc(fn, `${path}.${k}`);
      }
      return { _rtype: "interface", _rvalue: members };
    }
    if (Array.isArray(v) || isPlainObject(v)) {
      if (active.has(v)) throw new CodecError("circular reference: the value contains itself", path);
      active.add(v);
      try {
        if (Array.isArray(v)) return v.map((x, i) => enc(x, `${path}[${i}]`));
        const out = {};
        for (const [k, x] of Object.entries(v)) out[checkKey(k, path)] = enc(x, `${path}[${JSON.stringify(k)}]`);
        return "_rtype" in out ? { _rtype: "dict", _rvalue: out } : out;
      } finally {
        active.delete(v);
      }
    }
    throw new CodecError(`cannot encode a value of type ${v.constructor ? v.constructor.name : typeof v}`, path);
  }
  const data = enc(value, root);
  checkData(data, root);
  return { data, buffers };
}

function checkKey(key, path) {
  if (FORBIDDEN_KEYS.has(key)) throw new CodecError(`key ${JSON.stringify(key)} is not allowed: it names a JavaScript prototype property`, path);
  return key;
}

// Depth and keys of a whole message, iteratively (a hostile message cannot exhaust the stack first).
function checkData(data, path) {
  const stack = [[data, 1, path]];
  while (stack.length) {
    const [item, depth, where] = stack.pop();
    if (item === null || typeof item !== "object") continue;
    const isArray = Array.isArray(item);
    if (!isArray) for (const key of Object.keys(item)) checkKey(key, where);
    if (depth > MAX_DEPTH) throw new CodecError(`message nests deeper than ${MAX_DEPTH} arrays/objects`, where);
    const entries = isArray ? item.map((v, i) => [v, `${where}[${i}]`]) : Object.entries(item).map(([k, v]) => [v, `${where}[${JSON.stringify(k)}]`]);
    for (const [child, sub] of entries) if (child !== null && typeof child === "object") stack.push([child, depth + 1, sub]);
  }
}

function checkShape(shape, path) {
  if (!Array.isArray(shape) || shape.length > MAX_NDIM ||
      !shape.every((n) => Number.isInteger(n) && n >= 0 && n <= MAX_DIM)) {
    throw new CodecError(`_rshape must be a list of at most ${MAX_NDIM} integers 0..${MAX_DIM}, got ${JSON.stringify(shape)}`, path);
  }
  return shape;
}

function field(data, key, kind, path) {
  const v = data[key];
  const ok = kind === "array" ? Array.isArray(v) : kind === "object" ? isPlainObject(v) : typeof v === kind;
  if (!ok) throw new CodecError(`${data._rtype} message needs ${key} of type ${kind}, got ${JSON.stringify(v)}`, path);
  return v;
}

/** Decode {data, buffers}; makeProxy(id, name) builds the stand-in for a remote function. */
export function decode(data, buffers = [], { makeProxy = null, root = "value" } = {}) {
  function buffer(d, path) {
    const i = d._rvalue;
    if (!Number.isInteger(i) || i < 0 || i >= buffers.length) {
      throw new CodecError(`_rvalue ${JSON.stringify(i)} is not a buffer index (have ${buffers.length} buffers)`, path);
    }
    return buffers[i];
  }
  function method(d, path) {
    const id = field(d, "_rvalue", "string", path);
    if (!makeProxy) throw new CodecError(`received a remote function ${JSON.stringify(id)} but no makeProxy was given`, path);
    return makeProxy(id, String(d._rname || ""));
  }
  function dec(d, path) {
    if (Array.isArray(d)) return d.map((x, i) => dec(x, `${path}[${i}]`));
    if (!isPlainObject(d)) return d;
    if (!("_rtype" in d)) {
      const out = {};
      for (const [k, x] of Object.entries(d)) out[k] = dec(x, `${path}[${JSON.stringify(k)}]`);
      return out;
    }
    if (typeof d._rtype !== "string") throw new CodecError(`_rtype ${JSON.stringify(d._rtype)} is not a string`, path);
    switch (d._rtype) {
      case "bytes": return toArrayBuffer(buffer(d, path));
      case "ndarray": {
        const dtype = d._rdtype;
        if (typeof dtype !== "string" || !Object.hasOwn(TYPED, dtype)) throw new CodecError(`_rdtype ${JSON.stringify(dtype)} is not a known dtype`, path);
        const shape = checkShape(d._rshape, path);
        const buf = toArrayBuffer(buffer(d, path));
        const count = shape.reduce((a, b) => a * b, 1);
        if (buf.byteLength !== count * ITEMSIZE[dtype]) {
          throw new CodecError(`buffer has ${buf.byteLength} bytes, shape ${JSON.stringify(shape)} of ${dtype} needs ${count * ITEMSIZE[dtype]}`, path);
        }
        return new NDArray(new TYPED[dtype](buf), shape, dtype);
      }
      case "method": return method(d, path);
      case "interface": {
        const members = field(d, "_rvalue", "object", path);
        const out = {};
        for (const [k, m] of Object.entries(members)) {
          if (!isPlainObject(m) || m._rtype !== "method") throw new CodecError(`interface member ${JSON.stringify(k)} is not a method`, path);
          out[checkKey(k, path)] = method(m, `${path}.${k}`);
        }
        Object.defineProperty(out, INTERFACE, { value: true });
        return out;
      }
      case "error": return new RemoteError(field(d, "_rname", "string", path), field(d, "_rvalue", "string", path), String(d._rtraceback || ""));
      case "int": {
        const text = field(d, "_rvalue", "string", path);
        if (!/^-?\d+$/.test(text)) throw new CodecError(`_rvalue ${JSON.stringify(text)} is not a decimal integer`, path);
        return BigInt(text);
      }
      case "float": {
        const text = field(d, "_rvalue", "string", path);
        const table = { nan: NaN, inf: Infinity, "-inf": -Infinity };
        if (!(text in table)) throw new CodecError(`_rvalue ${JSON.stringify(text)} is not one of 'nan', 'inf', '-inf'`, path);
        return table[text];
      }
      case "dict": {
        const value = field(d, "_rvalue", "object", path);
        const out = {};
        for (const [k, x] of Object.entries(value)) out[k] = dec(x, `${path}[${JSON.stringify(k)}]`);
        return out;
      }
      default:
        throw new CodecError(`unknown _rtype ${JSON.stringify(d._rtype)}`, path);
    }
  }
  checkData(data, root);
  return dec(data, root);
}

function toArrayBuffer(b) {
  if (b instanceof ArrayBuffer) return b;
  if (ArrayBuffer.isView(b)) return ownBuffer(b);
  throw new CodecError(`a buffer must be an ArrayBuffer or a typed array, got ${b && b.constructor ? b.constructor.name : typeof b}`);
}

/** pack: {header: JSON text {"v":1,"n":N,"data":...}, buffers}. */
export function pack(value, options = {}) {
  const { data, buffers } = encode(value, options);
  return { header: JSON.stringify({ v: WIRE_VERSION, n: buffers.length, data }), buffers };
}

/** unpack a header (text) and its buffers. */
export function unpack(header, buffers = [], options = {}) {
  let message;
  if (typeof header !== "string") throw new CodecError(`header must be JSON text, got ${typeof header}`);
  if (!Array.isArray(buffers)) throw new CodecError("buffers must be an array");
  try {
    message = JSON.parse(header);
  } catch (err) {
    throw new CodecError(`header is not JSON: ${err.message}`);
  }
  if (!isPlainObject(message) || !Number.isInteger(message.v) || !("data" in message)) {
    throw new CodecError('header must be a JSON object with "v", "n" and "data"');
  }
  if (message.v > WIRE_VERSION) throw new CodecError(`message uses wire version ${message.v}, this reader knows up to ${WIRE_VERSION}`);
  if (message.n !== buffers.length) throw new CodecError(`header announces ${message.n} buffers, got ${buffers.length}`);
  return decode(message.data, buffers, { ...options, root: "message" });
}

/** Function ids in a codec header (methods and interface members): what the receiver may call afterwards. */
export function methodIds(header) {
  const ids = [];
  let data;
  try {
    data = JSON.parse(header).data;
  } catch {
    return ids;
  }
  const stack = [data];
  while (stack.length) {
    const d = stack.pop();
    if (d === null || typeof d !== "object") continue;
    if (d._rtype === "method" && typeof d._rvalue === "string") ids.push(d._rvalue);
    for (const v of Array.isArray(d) ? d : Object.values(d)) if (v !== null && typeof v === "object") stack.push(v);
  }
  return ids;
}
