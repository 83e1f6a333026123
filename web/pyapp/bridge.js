// What the page's MicroPython shell (pyapp/shell/dom.py) waits on instead of raw promises (dom.py yields them
// to the JavaScript that resumes each coroutine, not through asyncio: see its docstring): settle(promise)
// always resolves, so a rejection arrives as data; and it sleeps on a JavaScript timer, not asyncio.
//   await settle(promise) -> {ok: true, value} | {ok: false, error: "one line"}
//   await sleep(ms)
export const settle = (promise) => Promise.resolve(promise).then(
  (value) => ({ ok: true, value }),
  (err) => ({ ok: false, error: (err && err.message) || String(err) }),
);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
