"""Build step "editor", after "web": the plugin editor's CodeMirror 6 bundle (basic setup, Python, a light theme),
``editor/entry.js`` bundled by esbuild into ``<out>/pyapp/editor.bundle.js``.

Incremental: the sha256 of the entry, package-lock.json and the esbuild version is kept in
``<cache>/editor/inputs.json`` together with the bundle's sha256; when both still match, the bundle is only verified.
The bundle is listed in ``<out>/.pyapp-editor-files.json`` (EDITOR_MANIFEST), which the "app" step adds to the
service worker's precache list.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from ._common import (
    BuildError,
    Site,
    npm_package_dir,
    rel,
    say,
    sha256_bytes,
    sha256_file,
    tool_error,
    write_bytes,
    write_json,
)

ESBUILD_VERSION = "0.28.2"  # pinned exactly in package.json (devDependencies)
ENTRY = Path("editor") / "entry.js"
BUNDLE = "pyapp/editor.bundle.js"
EDITOR_MANIFEST = ".pyapp-editor-files.json"


def _inputs_digest(site: Site) -> str:
    lock = site.root / "package-lock.json"
    parts = [ENTRY.as_posix(), sha256_file(site.root / ENTRY), sha256_file(lock) if lock.is_file() else "-",
             ESBUILD_VERSION]
    return sha256_bytes("\n".join(parts).encode())


def esbuild_error(proc: subprocess.CompletedProcess[str]) -> str:
    """esbuild's first ``[ERROR]`` line with the ``file:line:col`` under it, else the tool's most telling line."""
    lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if "[ERROR]" in line:
            message = line.split("[ERROR]", 1)[1].strip()
            where = next((ln.rstrip(":") for ln in lines[i + 1:i + 2] if re.match(r"^\S+:\d+:\d+:?$", ln)), "")
            message = f"{where}: {message}" if where else message
            return message if len(message) <= 240 else message[:237] + "..."
    return tool_error(proc)


def bundle_editor(site: Site) -> bytes:
    """Run esbuild on the entry and return the minified ESM bundle; one-line BuildError when it fails."""
    esbuild = npm_package_dir(site, "esbuild", ESBUILD_VERSION).parent / ".bin" / "esbuild"
    if not esbuild.is_file():
        raise BuildError(f"{rel(esbuild)} is missing: run `npm ci` (esbuild@{ESBUILD_VERSION} is a devDependency)")
    with tempfile.TemporaryDirectory() as tmp:
        outfile = Path(tmp) / "editor.bundle.js"
        cmd = [str(esbuild), str(site.root / ENTRY), "--bundle", "--format=esm", "--minify", "--log-level=error",
               "--legal-comments=none", f"--outfile={outfile}"]
        say("running", f"esbuild {ENTRY.as_posix()} --bundle --format=esm --minify")
        # NODE_PATH: a kit's entry sits in site-packages, its node_modules in the build cache
        env = {**os.environ, "NODE_PATH": str(site.node_modules)}
        proc = subprocess.run(cmd, cwd=site.npm_dir, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not outfile.is_file():
            raise BuildError(f"esbuild failed on {ENTRY.as_posix()}: {esbuild_error(proc)}")
        return outfile.read_bytes()


def build_editor(site: Site) -> None:
    """Bundle CodeMirror 6 for the plugin editor into ``<out>/pyapp/editor.bundle.js`` (skipped when unchanged)."""
    if not (site.root / ENTRY).is_file():
        say("skipped", f"editor ({ENTRY.as_posix()} is missing)")
        for stale in (site.out / BUNDLE, site.out / EDITOR_MANIFEST):
            if stale.is_file():
                stale.unlink()
                say("removed", rel(stale))
        return
    dest, stamp = site.out / BUNDLE, site.cache / "editor" / "inputs.json"
    digest = _inputs_digest(site)
    try:
        known = json.loads(stamp.read_text())
    except (OSError, ValueError):
        known = {}
    if known.get("inputs") == digest and dest.is_file() and sha256_file(dest) == known.get("bundle"):
        say("verified", rel(dest))
    else:
        data = bundle_editor(site)
        write_bytes(dest, data)
        write_json(stamp, {"inputs": digest, "bundle": sha256_bytes(data)})
    write_json(site.out / EDITOR_MANIFEST, [BUNDLE])
