// Zoom and pan of the input and result panes, kept in sync: one view (zoom, and the image point at the centre
// of each frame) over the image's pixel grid (the "world"), applied as a CSS transform to every canvas of both
// panes; a result of another size is stretched onto the same grid. Wheel or pinch zooms about the pointer, a drag
// pans, reset() fits the image again. Pixels are drawn nearest-neighbour (image-rendering: pixelated) when they
// are enlarged, so small images stay crisp. A drawing tool (annotate.js) may take the pointer on the input pane.
//   const viewer = new Viewer({input: frameElement, output: frameElement})
//   viewer.setWorld(width, height); viewer.reset(); viewer.state() -> {zoom, cx, cy, input: {k, tx, ty}, ...}
//   viewer.toImage("input", clientX, clientY) -> [x, y];  viewer.toClient("input", x, y) -> [clientX, clientY]

const MIN_ZOOM = 0.5, MAX_ZOOM = 256;

export class Viewer {
  constructor(frames) {
    this.frames = frames;  // name -> the .frame element holding canvas.view elements
    this.world = [1, 1];
    this.zoom = 1;
    this.cx = 0.5;
    this.cy = 0.5;
    this.tool = null;  // {active(), down(x, y, event), move(x, y, event), up(x, y, event), dblclick(x, y, event)}
    this.pointers = new Map();  // pointer id -> its last position, while it is down
    this.drawingPointer = undefined;  // the pointer the tool follows
    for (const [name, frame] of Object.entries(frames)) this.listen(name, frame);
    new ResizeObserver(() => this.apply()).observe(frames.input);
    const redrawn = new MutationObserver(() => this.apply());  // a canvas drawn at another size (a new result)
    for (const frame of Object.values(frames)) {
      for (const canvas of frame.querySelectorAll("canvas.view")) {
        redrawn.observe(canvas, { attributes: true, attributeFilter: ["width", "height", "hidden"] });
      }
    }
    this.reset();
  }

  setWorld(width, height) {
    const changed = width !== this.world[0] || height !== this.world[1];
    this.world = [width, height];
    if (changed) this.reset();
    else this.apply();
  }

  reset() {
    this.zoom = 1;
    [this.cx, this.cy] = [this.world[0] / 2, this.world[1] / 2];
    this.apply();
  }

  /** Screen pixels per image pixel, and the frame position of image point (0, 0). */
  transform(name) {
    const frame = this.frames[name];
    const fw = frame.clientWidth || 1, fh = frame.clientHeight || 1;
    const k = Math.min(fw / this.world[0], fh / this.world[1]) * this.zoom;
    return { k, tx: fw / 2 - this.cx * k, ty: fh / 2 - this.cy * k };
  }

  apply() {
    for (const [name, frame] of Object.entries(this.frames)) {
      const { k, tx, ty } = this.transform(name);
      for (const canvas of frame.querySelectorAll("canvas.view")) {
        const sx = (k * this.world[0]) / (canvas.width || 1), sy = (k * this.world[1]) / (canvas.height || 1);
        canvas.style.transform = `translate(${tx}px, ${ty}px) scale(${sx}, ${sy})`;
        canvas.style.imageRendering = sx >= 1 ? "pixelated" : "auto";
      }
    }
    document.body.dataset.zoom = this.zoom.toFixed(3);
  }

  state() {
    const out = { zoom: this.zoom, cx: this.cx, cy: this.cy, world: [...this.world] };
    for (const name of Object.keys(this.frames)) out[name] = this.transform(name);
    return out;
  }

  toImage(name, clientX, clientY) {
    const rect = this.frames[name].getBoundingClientRect(), { k, tx, ty } = this.transform(name);
    return [(clientX - rect.left - this.frames[name].clientLeft - tx) / k,
            (clientY - rect.top - this.frames[name].clientTop - ty) / k];
  }

  toClient(name, x, y) {
    const rect = this.frames[name].getBoundingClientRect(), { k, tx, ty } = this.transform(name);
    return [rect.left + this.frames[name].clientLeft + tx + x * k, rect.top + this.frames[name].clientTop + ty + y * k];
  }

  /** Zoom by `factor` keeping the image point under (clientX, clientY) of pane `name` in place. */
  zoomAt(name, clientX, clientY, factor) {
    const [x, y] = this.toImage(name, clientX, clientY);
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    const ratio = this.zoom / zoom;
    this.cx = x + (this.cx - x) * ratio;
    this.cy = y + (this.cy - y) * ratio;
    this.zoom = zoom;
    this.apply();
  }

  panBy(name, dx, dy) {
    const { k } = this.transform(name);
    this.cx -= dx / k;
    this.cy -= dy / k;
    this.apply();
  }

  listen(name, frame) {
    frame.classList.add("zoomable");
    frame.addEventListener("wheel", (e) => {
      if (!frame.querySelector("canvas.view:not([hidden])")) return;
      e.preventDefault();
      this.zoomAt(name, e.clientX, e.clientY, Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)));
    }, { passive: false });
    const drawing = (e) => name === "input" && this.tool && this.tool.active() && this.pointers.size <= 1 &&
      (e.pointerType !== "mouse" || e.button === 0 || e.buttons === 1);
    frame.addEventListener("pointerdown", (e) => {
      if (!frame.querySelector("canvas.view:not([hidden])") || e.target.closest("button, ol")) return;
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY, name });
      frame.setPointerCapture(e.pointerId);
      if (this.pointers.size === 1 && drawing(e)) {
        this.drawingPointer = e.pointerId;
        this.tool.down(...this.toImage(name, e.clientX, e.clientY), e);
      } else if (this.drawingPointer !== undefined && this.pointers.size > 1) {
        this.tool.up(...this.toImage(name, e.clientX, e.clientY), e);  // a second finger: pinch instead
        this.drawingPointer = undefined;
      }
      e.preventDefault();
    });
    frame.addEventListener("pointermove", (e) => {
      const last = this.pointers.get(e.pointerId);
      if (!last) return;
      if (this.drawingPointer === e.pointerId) {
        this.tool.move(...this.toImage(name, e.clientX, e.clientY), e);
      } else if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        const before = Math.hypot(a.x - b.x, a.y - b.y);
        last.x = e.clientX; last.y = e.clientY;
        const after = Math.hypot(a.x - b.x, a.y - b.y);
        if (before > 0) this.zoomAt(name, (a.x + b.x) / 2, (a.y + b.y) / 2, after / before);
        return;
      } else {
        this.panBy(name, e.clientX - last.x, e.clientY - last.y);
      }
      last.x = e.clientX; last.y = e.clientY;
    });
    const end = (e) => {
      if (!this.pointers.delete(e.pointerId)) return;
      if (this.drawingPointer === e.pointerId) {
        this.drawingPointer = undefined;
        this.tool.up(...this.toImage(name, e.clientX, e.clientY), e);
      }
    };
    frame.addEventListener("pointerup", end);
    frame.addEventListener("pointercancel", end);
    frame.addEventListener("dblclick", (e) => {
      if (name === "input" && this.tool && this.tool.active()) this.tool.dblclick(...this.toImage(name, e.clientX, e.clientY), e);
    });
  }
}
