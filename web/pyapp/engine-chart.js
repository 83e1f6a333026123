// Small canvas plots for the training dashboard: the loss curve and the validation metric against steps,
// and a sample prediction drawn as a grey (or magenta-on-grey) image. No dependencies.
//   drawCurves(canvas, [{label, color, points: [[step, value], ...], axis: "left" | "right"}])
//   drawSample(canvas, sample)   sample: {data, shape: [h, w] | [c, h, w], dtype} from the engine's status

/** A series as [[x, y], ...]: accepts numbers (x = index), [x, y] pairs, or {step, value|loss|...} objects. */
export function toPoints(series, valueKey = null) {
  if (!Array.isArray(series)) return [];
  const out = [];
  series.forEach((entry, i) => {
    if (typeof entry === "number") out.push([i + 1, entry]);
    else if (Array.isArray(entry) && entry.length >= 2) out.push([Number(entry[0]), Number(entry[1])]);
    else if (entry && typeof entry === "object") {
      const key = valueKey && valueKey in entry ? valueKey
        : Object.keys(entry).find((k) => k !== "step" && typeof entry[k] === "number");
      if (key) out.push([Number(entry.step ?? i + 1), Number(entry[key])]);
    }
  });
  return out.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
}

function range(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi - lo < 1e-12) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

const fmt = (v) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** Draw line series with a shared step axis; "left" and "right" series get their own value scales. */
export function drawCurves(canvas, series, { xMax = null } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 360, height = canvas.clientHeight || 180;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const pad = { l: 44, r: 44, t: 18, b: 22 };
  const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const [x0, x1raw] = range(xs.length ? [0, ...xs] : [0, 1]);
  const x1 = Math.max(x1raw, xMax || 0);
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = "#d5dde5";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.l, pad.t, w, h);
  ctx.fillStyle = "#5d6d7e";
  ctx.textAlign = "center";
  ctx.fillText(`step ${Math.round(x1)}`, pad.l + w - 24, height - 6);
  ctx.fillText("0", pad.l, height - 6);
  let legendX = pad.l;
  for (const s of series) {
    const [y0, y1] = s.range || range(s.points.map((p) => p[1]));
    const X = (x) => pad.l + ((x - x0) / (x1 - x0 || 1)) * w;
    const Y = (y) => pad.t + h - ((y - y0) / (y1 - y0 || 1)) * h;
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    if (s.points.length === 1 || s.dots) for (const [x, y] of s.points) ctx.fillRect(X(x) - 2, Y(y) - 2, 4, 4);
    ctx.textAlign = s.axis === "right" ? "left" : "right";
    const tx = s.axis === "right" ? pad.l + w + 4 : pad.l - 4;
    if (s.points.length) {
      ctx.fillText(fmt(y1), tx, pad.t + 8);
      ctx.fillText(fmt(y0), tx, pad.t + h);
    }
    ctx.textAlign = "left";
    const last = s.points.length ? ` ${fmt(s.points[s.points.length - 1][1])}` : "";
    const text = `${s.label}${last}`;
    ctx.fillText(text, legendX, 12);
    legendX += ctx.measureText(text).width + 16;
  }
}

/** Draw the engine's sample prediction: planes ({data, shape: [h, w], dtype}) side by side; uint8 planes as they
 * are (the engine scales image, probability and mask to 0–255), others stretched to their range.
 * `sample` is one plane, or an object of planes such as {image, prediction, mask} (drawn in that order). */
export function drawSample(canvas, sample) {
  if (!sample) return false;
  const planes = (sample.data && sample.shape ? [sample] : Object.values(sample))
    .filter((p) => p && p.data && p.shape && p.shape.length === 2);
  if (!planes.length) return false;
  const hh = Math.max(...planes.map((p) => p.shape[0]));
  const widths = planes.map((p) => p.shape[1]);
  const gap = 4;
  canvas.width = widths.reduce((a, b) => a + b, 0) + gap * (planes.length - 1);
  canvas.height = hh;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#10181f";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let left = 0;
  for (const plane of planes) {
    const [h, w] = plane.shape;
    let lo = 0, hi = 255;
    if (plane.dtype !== "uint8") {
      lo = Infinity; hi = -Infinity;
      for (const v of plane.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    const scale = hi > lo ? 255 / (hi - lo) : 0;
    const image = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      const v = (plane.data[i] - lo) * scale;
      image.data[4 * i] = v; image.data[4 * i + 1] = v; image.data[4 * i + 2] = v; image.data[4 * i + 3] = 255;
    }
    ctx.putImageData(image, left, 0);
    left += w + gap;
  }
  return true;
}
