// The app page runs without 'unsafe-eval' (pyapp/csp.py): two libraries it loads evaluate strings, and get what
// they need here instead. Imported first by page.js, before PyScript sets up the shell and before the Train panel
// loads hypha-rpc (docs/security.md).
//
// 1. PyScript 0.6.66: for every <script type="mpy"> polyscript builds the hooks a PyScript *worker* would get
//    (`new Hook(...)` in pyscript/core-*.js reads hooks.worker.onBeforeRunAsync & co.), and compiles a non-empty
//    worker hook list with Function(...) (`ko` in core-*.js), which the policy refuses: the shell never started.
//    The only worker hook there by default registers `pyscript.fs` in PyScript workers; the page starts none
//    (its model worker is our own), so emptying the lists drops nothing the page uses. This runs right after
//    core.js evaluates (an import), long before the interpreter (fetched over the network) reads the hooks.
// 2. hypha-rpc 0.21 (hypha/hypha-rpc-websocket.min.mjs) runs `eval(name)` at load for each name of its typed
//    array table ("Int8Array" ... "Float64Array", "Array") to get the constructors. The page's eval is wrapped:
//    those names get their constructor (an ordinary call, not an evaluation); every other string goes to the
//    real eval, which the policy refuses as before (only the browser's own tools may evaluate, e.g. a test
//    driver's page.evaluate).
import { hooks } from "../pyscript/core.js";

for (const name of ["onReady", "onBeforeRun", "onBeforeRunAsync", "onAfterRun", "onAfterRunAsync"]) {
  hooks.worker[name].clear();
}

const CONSTRUCTOR = /^(?:(?:Int|Uint|Float)(?:8|16|32|64)|Uint8Clamped|BigInt64|BigUint64)?Array$/;

const realEval = globalThis.eval;
globalThis.eval = function noEval(code) {
  return typeof code === "string" && CONSTRUCTOR.test(code) ? globalThis[code] : realEval(code);
};
