"""Whole-process wall time, peak RSS and output difference of `pyapp predict` vs `bioimageio predict`.

Run: ``.venv/bin/python benchmarks/predict_vs_bioimageio.py [--model M] [--size 2048] [--repeat N]``.

The job: the ONNX weights of MODEL (default: the gold ``unet2d_nuclei_broad``, fixed 512x512 input, output
halo 32) on one SIZE x SIZE uint16 image made by mirroring ``shared/data/nuclei-dsb2018/img2d.tif``
(``np.pad(..., mode="symmetric")``), written as a .tif into a temporary folder. Both tools must tile it:
``pyapp predict`` does so by itself (the input size is fixed), ``bioimageio predict`` gets ``--blockwise``;
the block counts both report are printed. bioimageio.core runs offline
(``BIOIMAGEIO_PERFORM_IO_CHECKS=false``, else it fetches the remote pytorch weights while loading).

Each tool runs under ``/usr/bin/time -v`` (peak RSS: "Maximum resident set size"); wall time is the whole
process, taken here; CPU time (user + sys, all threads) is printed too, as it varies less on a busy machine.
Runs alternate between the tools; the medians are compared. Goals (issue 13): wall time <= 0.5x and peak RSS <= 0.5x
of bioimageio's. The outputs' max abs difference is printed (tiled vs tiled, same blocks). Nothing is
written into the repository.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "shared/corpus/bioimageio-examples/models/unet2d_nuclei_broad/bioimageio.yaml"
DEFAULT_IMAGE = ROOT / "shared/data/nuclei-dsb2018/img2d.tif"
GOAL_WALL, GOAL_RSS = 0.5, 0.5


def make_image(source: Path, size: int, dest: Path) -> tuple[int, ...]:
    """Mirror the 2D image ``source`` (symmetric padding after it) to ``size`` x ``size``; write ``dest``."""
    img = tifffile.imread(source)
    if img.ndim != 2:
        raise SystemExit(f"{source}: expected a 2D image, got shape {img.shape}")
    big = np.pad(img, [(0, max(0, size - n)) for n in img.shape], mode="symmetric")[:size, :size]
    tifffile.imwrite(dest, big)
    return big.shape


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + sys), peak RSS (MiB) and stderr of ``cmd`` under ``/usr/bin/time -v``.

    Exits on failure.
    """
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.replace("\r", "\n").splitlines()[-25:])
        raise SystemExit(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = [float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)]
    if match is None or len(cpu) != 2:
        raise SystemExit("/usr/bin/time -v printed no 'Maximum resident set size' or CPU times")
    return wall, sum(cpu), int(match.group(1)) / 1024, proc.stderr


def kernel_floor(model: str, repeat: int = 5) -> float:
    """Seconds of one block's ``session.run`` (default session options, median of ``repeat``) in this process.

    Both tools run the same onnxruntime on the same blocks, so blocks x this is the wall time neither can beat.
    """
    import onnxruntime as ort

    from pyapp.runtime import read_weights
    from pyapp.spec import load

    descr = load(model)
    session = ort.InferenceSession(read_weights(descr, descr.weights["onnx"]), providers=["CPUExecutionProvider"])
    graph_input = session.get_inputs()[0]
    shape = [n if isinstance(n, int) else 1 for n in graph_input.shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    session.run(None, {graph_input.name: x})
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, {graph_input.name: x})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def last_int(pattern: str, text: str) -> int | None:
    found = re.findall(pattern, text.replace("\r", "\n"))
    return int(found[-1]) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="bioimageio.yaml with ONNX weights")
    parser.add_argument("--image", default=str(DEFAULT_IMAGE), help="2D image mirrored to --size")
    parser.add_argument("--size", type=int, default=2048, help="side of the square test image (2048)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; medians are compared (1)")
    parser.add_argument("--pyapp-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for pyapp predict, repeatable (e.g. --pyapp-arg=--tile=512)")
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    pyapp_exe, ref_exe = bindir / "pyapp", bindir / "bioimageio"
    if not ref_exe.exists():
        found = shutil.which("bioimageio")
        if found is None:
            print("bioimageio (bioimageio.core) is not installed: pip install -e '.[test]'", file=sys.stderr)
            return 2
        ref_exe = Path(found)
    if not Path("/usr/bin/time").exists():
        print("/usr/bin/time (GNU time) is needed for peak RSS", file=sys.stderr)
        return 2
    model = str(Path(args.model).resolve())
    env = {**os.environ, "BIOIMAGEIO_PERFORM_IO_CHECKS": "false", "PYTHONWARNINGS": "ignore"}

    with tempfile.TemporaryDirectory(prefix="pyapp-bench-") as tmp:
        work = Path(tmp)
        shape = make_image(Path(args.image), args.size, work / "img.tif")
        results: dict[str, list[tuple[float, float, float]]] = {"pyapp": [], "bioimageio": []}
        blocks: dict[str, int | None] = {}
        outputs: dict[str, Path] = {}
        for k in range(args.repeat):
            for old in (work / f"pyapp{k - 1}", work / f"ref{k - 1}"):  # keep the last run's outputs only
                shutil.rmtree(old, ignore_errors=True)
            # pyapp: tiles by itself because the model's input size is fixed
            out = work / f"pyapp{k}"
            wall, cpu, rss, err = timed([str(pyapp_exe), "predict", model, "img.tif", "-o", str(out), *args.pyapp_arg],
                                   work, env)
            results["pyapp"].append((wall, cpu, rss))
            blocks["pyapp"] = last_int(r"(\d+)/\d+ tiles \[", err)
            outputs["pyapp"] = next(out.glob("img_*.tif"))
            # bioimageio.core: --blockwise; a fresh output folder each run (it does not overwrite)
            out = work / f"ref{k}"
            wall, cpu, rss, err = timed([str(ref_exe), "predict", "--weight-format", "onnx", "--blockwise", "true",
                                    "--inputs", "img.tif", "--outputs", f"{out}/{{output_id}}/{{sample_id}}.tif",
                                    model], work, env)
            results["bioimageio"].append((wall, cpu, rss))
            blocks["bioimageio"] = last_int(r"into (\d+) blocks", err)
            outputs["bioimageio"] = next(out.glob("*/*.tif"))

        ours = tifffile.imread(outputs["pyapp"])
        ref = tifffile.imread(outputs["bioimageio"])
        med = {name: tuple(statistics.median(run[i] for run in r) for i in range(3))
               for name, r in results.items()}

    print(f"model: {args.model}")
    print(f"image: {args.image} mirrored to {shape} uint16; ONNX weights; {args.repeat} run(s) per tool, medians")
    print(f"{'tool':<11} {'wall s':>8} {'cpu s':>7} {'peak RSS MiB':>13} {'blocks':>7}  output shape")
    for name, out_arr in (("pyapp", ours), ("bioimageio", ref)):
        wall, cpu, rss = med[name]
        print(f"{name:<11} {wall:8.2f} {cpu:7.2f} {rss:13.1f} {blocks[name] or '?':>7}  {out_arr.shape}")
    wall_ratio = med["pyapp"][0] / med["bioimageio"][0]
    cpu_ratio = med["pyapp"][1] / med["bioimageio"][1]
    rss_ratio = med["pyapp"][2] / med["bioimageio"][2]
    print(f"wall time ratio pyapp/bioimageio: {wall_ratio:.3f}  (goal <= {GOAL_WALL}: "
          f"{'met' if wall_ratio <= GOAL_WALL else 'NOT met'})")
    print(f"cpu time ratio  pyapp/bioimageio: {cpu_ratio:.3f}  (context: less sensitive to a busy machine)")
    if blocks["pyapp"]:
        block_s = kernel_floor(model)
        floor = blocks["pyapp"] * block_s
        print(f"onnxruntime floor: {blocks['pyapp']} blocks x {block_s * 1000:.1f} ms session.run = {floor:.2f} s = "
              f"{floor / med['bioimageio'][0]:.3f} of bioimageio's wall (the same kernels in both tools)")
    print(f"peak RSS ratio  pyapp/bioimageio: {rss_ratio:.3f}  (goal <= {GOAL_RSS}: "
          f"{'met' if rss_ratio <= GOAL_RSS else 'NOT met'})")
    if ours.squeeze().shape != ref.squeeze().shape:
        print(f"outputs differ in shape: pyapp {ours.shape}, bioimageio {ref.shape}")
        return 1
    diff = np.abs(ours.squeeze().astype(np.float64) - ref.squeeze().astype(np.float64))
    print(f"max |pyapp - bioimageio|: {diff.max():.3g}  (pixels > 1e-4: {int((diff > 1e-4).sum())} "
          f"of {diff.size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
