"""Build steps "ort" (onnxruntime-web into ``<out>/ort/``), "hypha" (the hypha-rpc browser client into
``<out>/hypha/``) and "web" (everything under ``web/``)."""

from __future__ import annotations

import json
import re

from ._common import (
    STAMP,
    WEB_MANIFEST,
    BuildError,
    Site,
    copy_file,
    npm_package_dir,
    rel,
    remove_stale,
    say,
    sha256_file,
    write_json,
)

ORT_VERSION = "1.30.0"
# onnxruntime-web dist files copied into <out>/ort/, with their sha256: the ``onnxruntime-web/webgpu`` build
# (wasm EP + the maintained native WebGPU EP; the default build's JSEP WebGPU is deprecated). Its wasm EP runs
# the same kernels as the default build's (equal CPU time per block: docs/benchmarks.md). ort.webgpu.min.mjs
# loads ort-wasm-simd-threaded.asyncify.mjs, which loads the .wasm next to it; the build checks that nothing
# else is referenced. Set ``ort.env.wasm.wasmPaths`` to the absolute URL of ort/.
ORT_FILES = {
    "ort.webgpu.min.mjs": "3dffff71811bc13a3a3d9591c57ca5ee5735b8f5f3eaf789510b02bb040ae3a0",
    "ort-wasm-simd-threaded.asyncify.mjs": "3d1c85995364bb643302fc6fd877a0c3ba5ae72401815e0f24828a53d9191e28",
    "ort-wasm-simd-threaded.asyncify.wasm": "39f9f0894d478800487ed9f7dbe92618498db320cf55c8e3d89adff8dce658da",
}

HYPHA_RPC_VERSION = "0.21.40"
# The hypha-rpc WebSocket client (an ES module with no imports of its own), with its sha256: the engine panel
# (web/pyapp/engine-client.js) imports it to reach a training engine (a Hypha server) the user connects to.
HYPHA_RPC_FILES = {
    "hypha-rpc-websocket.min.mjs": "ea527032972aeb272e45c5b2385b91996604168fb92ecf4f783b200a1cec1823",
}

# Top-level names of the output folder that the build owns; web/ must not contain them.
RESERVED = ("pyodide", "ort", "hypha", "wheels", "models", "plugins")


def ort_references(text: str) -> set[str]:
    """The ``ort-wasm-*.mjs|wasm`` file names a JavaScript file of onnxruntime-web refers to."""
    return set(re.findall(r"ort-wasm-[A-Za-z0-9_.-]*?\.(?:mjs|wasm)\b", text))


def build_ort(site: Site) -> None:
    """Copy the onnxruntime-web files the browser loads (see ORT_FILES) into ``<out>/ort/``, verified."""
    dist = npm_package_dir(site, "onnxruntime-web", ORT_VERSION) / "dist"
    for name, sha in ORT_FILES.items():
        src = dist / name
        if not src.is_file():
            raise BuildError(f"{rel(src)} is missing from onnxruntime-web@{ORT_VERSION}")
        if (got := sha256_file(src)) != sha:
            raise BuildError(f"sha256 mismatch for {rel(src)}: got {got}, pyapp/sitebuild/assets.py pins {sha}")
        if name.endswith(".mjs"):
            missing = sorted(ort_references(src.read_text(encoding="utf-8", errors="replace")) - set(ORT_FILES))
            if missing:
                raise BuildError(f"{name} loads {missing[0]}, which ORT_FILES (sitebuild/assets.py) does not ship")
    ort = site.out / "ort"
    for name in ORT_FILES:
        copy_file(dist / name, ort / name)
    remove_stale(ort, ORT_FILES)


def build_hypha(site: Site) -> None:
    """Copy the hypha-rpc browser client (see HYPHA_RPC_FILES) into ``<out>/hypha/``, verified."""
    dist = npm_package_dir(site, "hypha-rpc", HYPHA_RPC_VERSION) / "dist"
    for name, sha in HYPHA_RPC_FILES.items():
        src = dist / name
        if not src.is_file():
            raise BuildError(f"{rel(src)} is missing from hypha-rpc@{HYPHA_RPC_VERSION}")
        if (got := sha256_file(src)) != sha:
            raise BuildError(f"sha256 mismatch for {rel(src)}: got {got}, pyapp/sitebuild/assets.py pins {sha}")
        copy_file(src, site.out / "hypha" / name)
    remove_stale(site.out / "hypha", HYPHA_RPC_FILES)


def build_web(site: Site) -> None:
    """Copy everything under ``web/`` into the output folder, same relative paths; drop files deleted there."""
    web = site.root / "web"
    manifest = site.out / WEB_MANIFEST
    if not web.is_dir():
        say("skipped", f"{rel(web)} (no web/ folder yet)")
        return
    files = sorted(p.relative_to(web) for p in web.rglob("*") if p.is_file()
                   and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(web).parts))
    for path in files:
        if path.parts[0] in RESERVED or path.name in (STAMP, WEB_MANIFEST):
            raise BuildError(f"web/{path.as_posix()} clashes with the build's own {path.parts[0]}")
        copy_file(web / path, site.out / path)
    listed = {path.as_posix() for path in files}
    previous = json.loads(manifest.read_text()) if manifest.is_file() else []
    for name in sorted(set(previous) - listed):
        stale = site.out / name
        if stale.is_file():
            stale.unlink()
            say("removed", rel(stale))
    write_json(manifest, sorted(listed))
