// node tests/js/results_check.mjs RESULTS_JS CASES_JSON: runs matchObjects and csv of web/pyapp/results.js on the
// cases (each {pred: {shape, data}, truth: {shape, data}, rows}) and prints one JSON line of their answers.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [resultsJs, casesJson] = process.argv.slice(2);
const results = await import(pathToFileURL(resultsJs).href);
const cases = JSON.parse(readFileSync(casesJson, "utf8"));
const out = cases.map((c) => {
  const pred = { shape: c.pred.shape, data: Uint16Array.from(c.pred.data) };
  const truth = { shape: c.truth.shape, data: Int32Array.from(c.truth.data) };
  const m = results.matchObjects(pred, truth);
  return { tp: m.tp, fp: m.fp, fn: m.fn, csv: results.csv(c.rows || []) };
});
console.log(JSON.stringify(out));
