"""The ``pyapp`` command line: ``validate``, ``test``, ``predict``, ``build``, ``serve``.

Each command prints one line per finding and never a traceback for bad input (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__


def example_model() -> Path:
    """The example description shipped inside the package (used when no source is given)."""
    return Path(__file__).parent / "examples" / "smooth2d" / "bioimageio.yaml"


def _cmd_validate(args: argparse.Namespace) -> int:
    from .spec import validate

    sources = args.sources or [str(example_model())]
    results = []
    for src in sources:
        issues = validate(src, io_checks=not args.no_io, allow_network=args.allow_network)
        results.append((src, issues))
    if args.json:
        print(json.dumps([
            {"source": src, "valid": not any(i.severity == "error" for i in issues),
             "issues": [{"path": i.path, "message": i.message, "severity": i.severity} for i in issues]}
            for src, issues in results
        ], indent=2))
    else:
        for src, issues in results:
            for issue in issues:
                print(f"{src}: {issue}")
    n_bad = sum(any(i.severity == "error" for i in issues) for _, issues in results)
    if not args.json:
        for src, issues in results:
            errors = sum(i.severity == "error" for i in issues)
            verdict = "valid" if not errors else "invalid"
            print(f"{src}: {verdict} ({errors} errors, {len(issues) - errors} warnings)")
        print(f"{len(results) - n_bad} of {len(results)} descriptions valid")
    return 1 if n_bad else 0


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check bioimage.io descriptions (model 0.4/0.5, dataset, ...)",
                       description="Check descriptions offline; exit 0 when all are valid, 1 otherwise.")
    p.add_argument("sources", nargs="*", metavar="SRC",
                   help="rdf.yaml/bioimageio.yaml file, package folder, zip, or URL (default: the shipped example)")
    p.add_argument("--no-io", action="store_true", help="skip file existence and sha256 checks")
    p.add_argument("--json", action="store_true", help="print the issues as JSON")
    p.add_argument("--allow-network", action="store_true", help="download remote descriptions and files")
    p.set_defaults(func=_cmd_validate)


#: Subcommand -> (module, function adding its parser), in the order ``--help`` lists them. Modules are
#: imported only for the command that runs (or all of them for ``--help``), so ``pyapp validate`` starts fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("pyapp.cli", "_add_validate"), "test": ("pyapp.cli_run", "add_test"),
    "predict": ("pyapp.cli_run", "add_predict"), "package": ("pyapp.zoo", "add_package"),
    "convert": ("pyapp.zoo.convert", "add_convert"),
    "build": ("pyapp.sitebuild", "add_build"), "serve": ("pyapp.serve", "add_serve"),
    "engine": ("pyapp.engine.cli", "add_engine"), "train": ("pyapp.engine.cli", "add_train"),
}


def _adder(module: str, name: str) -> Callable[[argparse._SubParsersAction], None]:
    return globals()[name] if module == __name__ else getattr(importlib.import_module(module), name)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand (or only ``command``'s, when it names one)."""
    parser = argparse.ArgumentParser(prog="pyapp", description="bioimage.io models in the browser and in CPython")
    parser.add_argument("--version", action="version", version=f"pyapp {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = [command] if command in COMMANDS else list(COMMANDS)
    for name in chosen:
        _adder(*COMMANDS[name])(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pyapp`` script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(f"pyapp {args.command}: error: {err} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
