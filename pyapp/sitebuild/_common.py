"""Shared pieces of the build: :class:`Site`, :class:`BuildError`, and the logging, hashing, copying,
writing and npm helpers every step uses."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Written (mtime only) after a complete build; `pyapp serve` compares it with the sources.
STAMP = ".pyapp-built"
WEB_MANIFEST = ".pyapp-web-files.json"


class BuildError(Exception):
    """A build failure that is reported as one line, with a non-zero exit."""


@dataclass(frozen=True)
class Site:
    """Where a build reads and writes: the source checkout, the output folder, the caches."""

    root: Path
    out: Path
    cache: Path
    wheels: Path
    wheels_url: str = ""
    #: Where package.json sits and ``npm ci`` writes node_modules (the checkout, or ``<cache>/npm`` for a kit).
    npm_root: Path | None = None

    @property
    def npm_dir(self) -> Path:
        return self.npm_root or self.root

    @property
    def node_modules(self) -> Path:
        return self.npm_dir / "node_modules"


# ----------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------


def say(verb: str, what: str) -> None:
    """Print one progress line, e.g. ``verified  static/pyodide/numpy-...whl``."""
    print(f"{verb:<9} {what}", flush=True)


def rel(path: Path) -> str:
    """Path relative to the working directory when possible, for short log lines."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def canonicalize_name(name: str) -> str:
    """PEP 503 normalised project name (as ``packaging.utils.canonicalize_name``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace_atomically(dest: Path, write: Callable[[Path], object]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    write(tmp)
    tmp.replace(dest)


def write_bytes(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` unless identical bytes are already there (keeps mtimes and logs honest)."""
    if dest.is_file() and dest.stat().st_size == len(data) and sha256_file(dest) == sha256_bytes(data):
        say("verified", rel(dest))
        return
    _replace_atomically(dest, lambda tmp: tmp.write_bytes(data))
    say("wrote", rel(dest))


def copy_file(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` (atomically) unless ``dest`` already has the same sha256."""
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and sha256_file(dest) == sha256_file(src):
        say("verified", rel(dest))
        return
    _replace_atomically(dest, lambda tmp: shutil.copyfile(src, tmp))
    say("wrote", rel(dest))


def write_json(dest: Path, obj: object) -> None:
    """Write JSON deterministically (sorted keys) so unchanged content is not rewritten."""
    write_bytes(dest, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def run_tool(cmd: Sequence[str], what: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run an external tool quietly; on failure raise a one-line BuildError with its most telling line."""
    say("running", " ".join(cmd))
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed: {failure_cause(proc)}")


#: Output fragments of npm and pip that mean the registry could not be reached.
_NETWORK = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network|"
                      r"Failed to establish a new connection|Temporary failure in name resolution|"
                      r"Max retries exceeded|Could not fetch URL|timed out", re.IGNORECASE)
_LOCK = re.compile(r"in sync|package-lock\.json.*(missing|invalid|does not satisfy)|EUSAGE", re.IGNORECASE)


def failure_cause(proc: subprocess.CompletedProcess[str]) -> str:
    """Name the real cause of a failed npm/pip run: registry unreachable, lock mismatch, else the tool's line."""
    text = proc.stdout + "\n" + proc.stderr
    line = tool_error(proc)
    if _LOCK.search(text):
        return f"package.json and package-lock.json do not match (npm ci needs them in sync): {line}"
    if _NETWORK.search(text):
        return f"the package registry could not be reached (offline, proxy or firewall?): {line}"
    return line


def tool_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The most telling line of a failed tool's output: its last ``error`` line, else its last line."""
    lines = [ln.strip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"(npm )?error\b", ln, re.IGNORECASE) and "complete log" not in ln]
    line = (errors or lines or [f"exit status {proc.returncode}"])[-1]
    return line if len(line) <= 240 else line[:237] + "..."


def wheel_name_version(filename: str) -> tuple[str, str]:
    """Canonical project name and version from a wheel file name."""
    parts = filename[: -len(".whl")].split("-")
    return canonicalize_name(parts[0]), parts[1]


def find_wheel(folder: Path, name: str, version: str) -> Path | None:
    """The wheel of ``name==version`` in ``folder``, if any."""
    want = (canonicalize_name(name), version)
    for path in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        if wheel_name_version(path.name) == want:
            return path
    return None


def remove_stale(folder: Path, keep: Iterable[str]) -> None:
    """Delete the plain files of ``folder`` whose names are not in ``keep``."""
    wanted = set(keep)
    for stale in sorted(p for p in folder.iterdir() if p.is_file() and p.name not in wanted):
        stale.unlink()
        say("removed", rel(stale))


def mirror_dir(src: Path, dest: Path) -> None:
    """Make ``dest`` an exact copy of ``src`` (skipping dotfiles), copying only changed files."""
    wanted = {p.relative_to(src) for p in src.rglob("*") if p.is_file() and not p.name.startswith(".")}
    for path in sorted(wanted):
        copy_file(src / path, dest / path)
    for path in sorted(dest.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(dest) not in wanted:
            path.unlink()
            say("removed", rel(path))
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


# ----------------------------------------------------------------------------------------------------
# npm packages: Pyodide core, onnxruntime-web, PyScript
# ----------------------------------------------------------------------------------------------------


def npm_package_dir(site: Site, name: str, version: str) -> Path:
    """Make sure ``node_modules/<name>`` holds ``version`` (``npm ci`` when not), return its folder."""
    pkg_dir = site.node_modules / name
    pkg_json = pkg_dir / "package.json"

    def installed() -> bool:
        return pkg_json.is_file() and json.loads(pkg_json.read_text()).get("version") == version

    if installed():
        say("verified", f"{rel(pkg_dir)} {version}")
        return pkg_dir
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"npm not found on PATH and node_modules/{name}@{version} is missing: install Node.js 20+")
    run_tool([npm, "ci", "--no-audit", "--no-fund"], f"npm ci ({name}@{version}) in {rel(site.npm_dir)}",
             cwd=site.npm_dir)
    if not installed():
        raise BuildError(f"npm ci did not install {name}@{version}: check package.json")
    say("fetched", f"{rel(pkg_dir)} {version}")
    return pkg_dir
