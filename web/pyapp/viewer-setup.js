// The viewer on the app page: window.pyapp.viewer (image arrays, contrast, drawing: viewer-image.js; the synced
// zoom and pan of both panes as pyapp.viewer.view: viewer.js) and window.pyapp.annotations (annotate.js).
import { Annotator, annotationsApi } from "./annotate.js";
import { Viewer } from "./viewer.js";
import * as image from "./viewer-image.js";

export function setupViewer(pyapp) {
  const frame = (pane) => document.querySelector(`#${pane} .frame`);
  const view = new Viewer({ input: frame("input-pane"), output: frame("output-pane") });
  document.getElementById("view-reset").addEventListener("click", () => view.reset());
  // MicroPython loses a JavaScript exception thrown into it (the coroutine just stops): the shell gets {error}
  const modelInput = (...args) => {
    try { return image.modelInput(...args); } catch (err) { return { error: err.message }; }
  };
  pyapp.viewer = { ...image, modelInput, view, load: (decoded) => image.load(pyapp, decoded) };
  pyapp.annotations = annotationsApi(new Annotator(pyapp, view, document.getElementById("annot-canvas")));
}
