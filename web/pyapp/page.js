// The page's JavaScript side: window.pyapp (app.js) plus the camera, pixel helpers and offline support the
// PyScript shell (pyapp/shell/app.py) calls. The UI itself is Python; this file only wires modules together.
import "./no-eval.js";  // first: the page runs without eval (PyScript, hypha-rpc: see there)
import pyapp from "./app.js";
import * as imaging from "./imaging.js";
import * as results from "./results.js";
import { makeCamera } from "./camera.js";
import { setupPwa } from "./pwa.js";
import { showVersion } from "./version.js";
import { setupViewer } from "./viewer-setup.js";

pyapp.imaging = imaging;
pyapp.results = results;  // outlines, comparison picture, downloads (pyapp/shell/results.py)
pyapp.camera = makeCamera(pyapp);
setupViewer(pyapp);  // pyapp.viewer (zoom, pan, contrast, planes) and pyapp.annotations
pyapp.offline = setupPwa();
pyapp.version = showVersion(document.getElementById("app-version"));  // {version, build}

const status = document.getElementById("status");
pyapp.ready.catch((err) => {
  if (status) { status.textContent = "Python failed to start"; status.title = err.message; status.className = "pill bad"; }
});
