// Run by tests/test_js_codec.py: node codec_check.mjs VECTORS.json CASES.jsonl
// Checks web/pyapp/rpc-codec.js against the shared vectors (round trip, refusals), then decodes every case of
// CASES.jsonl ({header, buffers: [hex]} per line, from Hypothesis) and a seeded batch of mutations of the
// vectors: each must decode or throw CodecError, nothing else. Prints one JSON report on stdout.
import { readFileSync } from "node:fs";
import { CodecError, NDArray, pack, unpack } from "../../web/pyapp/rpc-codec.js";

const [vectorsPath, casesPath, seedText = "1", rounds = "3000"] = process.argv.slice(2);
const vectors = JSON.parse(readFileSync(vectorsPath, "utf8"));
const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((h) => parseInt(h, 16))).buffer;
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const makeProxy = (id, name) => { const f = () => id; Object.defineProperty(f, "name", { value: name }); f.rpcId = id; return f; };
const report = { roundTrip: [], refused: [], notRefused: [], other: [], decoded: 0, refusedCases: 0, cases: 0 };

for (const v of vectors.vectors) {
  const value = unpack(v.header, v.buffers.map(unhex), { makeProxy });
  const again = pack(value, { register: (fn) => fn.rpcId });
  if (again.header !== v.header || again.buffers.map(hex).join() !== v.buffers.join()) report.roundTrip.push(v.name);
}
for (const v of vectors.refuse || []) {
  const buffers = (typeof v.buffers === "string" ? JSON.parse(v.buffers.replace(/'/g, '"')) : v.buffers).map(unhex);
  try {
    unpack(v.header, buffers, { makeProxy });
    report.notRefused.push(v.name);
  } catch (err) {
    if (err instanceof CodecError && err.message.toLowerCase().includes(v.match.toLowerCase())) report.refused.push(v.name);
    else report.notRefused.push(`${v.name}: ${err.name}: ${err.message}`);
  }
}

function attempt(header, buffers, where) {
  report.cases++;
  try {
    const value = unpack(header, buffers, { makeProxy });
    pack(value, { register: (fn) => fn.rpcId || "f" });   // what was read can be sent on
    report.decoded++;
  } catch (err) {
    if (err instanceof CodecError) report.refusedCases++;
    else if (report.other.length < 20) report.other.push(`${where}: ${err && err.name}: ${err && err.message}`);
  }
}

for (const line of readFileSync(casesPath, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  attempt(c.header, c.buffers.map(unhex), `case ${line.slice(0, 120)}`);
}

// seeded mutations of the vectors: replace one JSON token with another, drop or add buffers
let seed = Number(seedText) >>> 0;
const rand = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32; };
const pick = (a) => a[Math.floor(rand() * a.length)];
const TOKENS = ["null", "true", "-1", "1.5", "1e309", '"__proto__"', '"constructor"', "[]", "{}", '"ndarray"',
  '"interface"', '"method"', "[[[[[[[[]]]]]]]]", '{"_rtype":"dict"}', "2147483648", '"float64"', "0"];
const all = [...vectors.vectors, ...(vectors.refuse || [])];
for (let i = 0; i < Number(rounds); i++) {
  const v = pick(all);
  const tokens = v.header.split(/([{}[\],:])/);
  const k = Math.floor(rand() * tokens.length);
  if (!/^[{}[\],:]$/.test(tokens[k])) tokens[k] = pick(TOKENS);
  const base = typeof v.buffers === "string" ? JSON.parse(v.buffers.replace(/'/g, '"')) : v.buffers;
  const buffers = base.map(unhex);
  if (rand() < 0.2) buffers.pop();
  if (rand() < 0.2) buffers.push(new ArrayBuffer(Math.floor(rand() * 9)));
  attempt(tokens.join(""), buffers, `mutation of ${v.name}`);
}
// NDArray is part of the module's surface: a sanity use keeps the import honest
report.ndarray = new NDArray(new Float32Array(2), [2]).dtype;
console.log(JSON.stringify(report));
