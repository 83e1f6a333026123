// Pixel rules of the annotation tools, on a label image (Uint16Array, row-major h × w). Points are pixel
// indices [x, y] (the pixel's centre); every test is exact integer arithmetic, so a reference rasterisation
// (tests/browser/test_app_annotate.py, numpy) gives the same pixels:
//   paintSegment: pixels whose centre lies within r of the segment p0–p1 (a brush or eraser stroke)
//   fillPolygon:  pixels whose centre lies inside the polygon or on its edge (even-odd rule)
// Both return the changed box [x0, y0, x1, y1] (inclusive), or null.

export function paintSegment(labels, w, h, [x0, y0], [x1, y1], r, value) {
  const r2 = r * r, vx = x1 - x0, vy = y1 - y0, len2 = vx * vx + vy * vy;
  const left = Math.max(0, Math.ceil(Math.min(x0, x1) - r)), right = Math.min(w - 1, Math.floor(Math.max(x0, x1) + r));
  const top = Math.max(0, Math.ceil(Math.min(y0, y1) - r)), bottom = Math.min(h - 1, Math.floor(Math.max(y0, y1) + r));
  if (left > right || top > bottom) return null;
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      const dx = x - x0, dy = y - y0, dot = dx * vx + dy * vy;
      let inside;
      if (len2 === 0 || dot <= 0) inside = dx * dx + dy * dy <= r2;
      else if (dot >= len2) inside = (x - x1) ** 2 + (y - y1) ** 2 <= r2;
      else inside = (dx * vy - dy * vx) ** 2 <= r2 * len2;
      if (inside) labels[y * w + x] = value;
    }
  }
  return [left, top, right, bottom];
}

export function fillPolygon(labels, w, h, points, value) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const left = Math.max(0, Math.min(...xs)), right = Math.min(w - 1, Math.max(...xs));
  const top = Math.max(0, Math.min(...ys)), bottom = Math.min(h - 1, Math.max(...ys));
  if (points.length < 3 || left > right || top > bottom) return null;
  const n = points.length;
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      let inside = false, edge = false;
      for (let i = 0; i < n && !edge; i++) {
        const [ax, ay] = points[i], [bx, by] = points[(i + 1) % n];
        if ((bx - ax) * (y - ay) === (by - ay) * (x - ax) && Math.min(ax, bx) <= x && x <= Math.max(ax, bx) &&
            Math.min(ay, by) <= y && y <= Math.max(ay, by)) edge = true;
        else if ((ay > y) !== (by > y)) {
          const lhs = (x - ax) * (by - ay), rhs = (y - ay) * (bx - ax);
          if (by > ay ? lhs < rhs : lhs > rhs) inside = !inside;
        }
      }
      if (inside || edge) labels[y * w + x] = value;
    }
  }
  return [left, top, right, bottom];
}

/** A distinct colour per label (golden-angle hues) as [r, g, b]. */
export function labelColour(label) {
  const hue = (label * 137.508) % 360, s = 0.75, l = 0.55;
  const f = (n) => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** Labels onto `img` (an ImageData of the same size) inside box: label colour at alpha 150, clear for 0. */
export function paintLabels(img, labels, w, [x0, y0, x1, y1]) {
  const d = img.data, cache = new Map();
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const i = y * w + x, v = labels[i];
      if (!v) { d[4 * i + 3] = 0; continue; }
      if (!cache.has(v)) cache.set(v, labelColour(v));
      const [r, g, b] = cache.get(v);
      d[4 * i] = r; d[4 * i + 1] = g; d[4 * i + 2] = b; d[4 * i + 3] = 150;
    }
  }
}
