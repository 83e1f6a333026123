// What the page's MicroPython shell (pyapp/shell/dom.py) awaits instead of raw promises: under PyScript
// (which imports asyncio) MicroPython 1.26.0-preview-293 never delivers a rejection to the awaiting coroutine,
// so it awaits settle(promise), which always resolves; and it sleeps on a JavaScript timer, not asyncio.
//   await settle(promise) -> {ok: true, value} | {ok: false, error: "one line"}
//   await sleep(ms)
export const settle = (promise) => Promise.resolve(promise).then(
  (value) => ({ ok: true, value }),
  (err) => ({ ok: false, error: (err && err.message) || String(err) }),
);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
