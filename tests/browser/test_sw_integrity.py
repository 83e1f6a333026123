"""The service worker checks each cached body against the precache manifest's sha256 before serving it: a
poisoned cache entry is dropped and fetched again while the server is there, and refused (HTTP 502) without it —
the wrong bytes are never served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from app_fixtures import STATIC, Site, launch, playwright, serve_built, watch  # noqa: F401

TARGET = "pyapp/workflows.js"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from serve_built("sw.js", "precache.js", TARGET)


def test_poisoned_cache_is_never_served(playwright, site) -> None:  # noqa: F811
    browser = launch(playwright)
    context = browser.new_context()
    page = watch(context.new_page())
    try:
        page.goto(f"{site.url}plugins.html?w=integrity")
        page.wait_for_function("document.body.dataset.workbench === 'ready'", timeout=120_000)
        cache = page.evaluate("""async () => {
          await navigator.serviceWorker.register("sw.js", { scope: "./" });
          const registration = await navigator.serviceWorker.ready;
          return new Promise((resolve) => {
            const channel = new MessageChannel();
            channel.port1.onmessage = (e) => resolve(e.data.cache);
            registration.active.postMessage({ type: "status" }, [channel.port2]);
          });
        }""")
        page.reload()
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=60_000)
        poison = """async ([cache, target]) => {
          const c = await caches.open(cache);
          await c.put(new URL(target, location.href).href, new Response("window.pwned = true;",
                      { headers: { "Content-Type": "text/javascript" } }));
          const r = await fetch(target);
          return { status: r.status, body: await r.text() };
        }"""
        real = (STATIC / TARGET).read_text()
        online = page.evaluate(poison, [cache, TARGET])
        assert online == {"status": 200, "body": real}
        # the good copy went back into the cache
        assert page.evaluate("""async ([cache, target]) => (await (await caches.open(cache))
          .match(new URL(target, location.href).href)).text()""", [cache, TARGET]) == real
        site.stop()
        offline = page.evaluate(poison, [cache, TARGET])
        assert offline["status"] == 502 and "pwned" not in offline["body"], offline
        assert "sha256" in offline["body"] or "Failed to fetch" in offline["body"]
    finally:
        context.close()
        browser.close()
