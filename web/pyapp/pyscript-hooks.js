// PyScript 0.6.66 under the app page's Content-Security-Policy (no 'unsafe-eval', pyapp/csp.py).
// For every <script type="mpy"> polyscript builds the hooks a PyScript *worker* would get (`new Hook(...)` in
// pyscript/core-*.js reads hooks.worker.onBeforeRunAsync & co.), and a non-empty worker hook list is compiled
// with Function(...) (`ko` in core-*.js): an eval the policy refuses, so the shell never started. The only
// worker hook there by default registers `pyscript.fs` (the `_pyscript` module) in PyScript workers; the page
// starts none (its model worker is our own, web/pyapp/model-worker.js), so clearing that list drops nothing the
// page uses and no Function() is compiled. This runs right after core.js evaluates (an import), long before the
// interpreter (fetched over the network) is ready and the hooks are read.
import { hooks } from "../pyscript/core.js";

for (const name of ["onReady", "onBeforeRun", "onBeforeRunAsync", "onAfterRun", "onAfterRunAsync"]) {
  hooks.worker[name].clear();
}
