// The minimal page: boot status, a run form, the first output channel drawn as grey levels.
import pyapp from "./app.js";

const $ = (id) => document.getElementById(id);
const log = (text) => { $("log").textContent += text + "\n"; };

pyapp.ready.then(
  (info) => { $("status").textContent = `Ready: Pyodide ${info.pyodide} in ${Math.round(info.bootMs)} ms`; },
  (err) => { $("status").textContent = `Python failed to start: ${err.message}`; },
);

function draw(output) {
  const [h, w] = output.shape.slice(-2);
  const plane = output.data.subarray(0, h * w);
  let lo = Infinity, hi = -Infinity;
  for (const v of plane) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const canvas = $("out");
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < plane.length; i++) {
    const g = hi > lo ? Math.round(255 * (plane[i] - lo) / (hi - lo)) : 0;
    img.data.set([g, g, g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

$("run").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("progress").value = 0;
  try {
    const result = await pyapp.predict($("model").value, $("image").value, {
      onProgress: (done, total) => { $("progress").max = total; $("progress").value = done; },
    });
    log(`${result.backend}: ${Math.round(result.ms)} ms; outputs ${result.outputs.map((o) => `${o.id} ${o.shape}`).join(", ")}`);
    draw(result.outputs[0]);
  } catch (err) {
    log(`error: ${err.message}`);
  }
});
