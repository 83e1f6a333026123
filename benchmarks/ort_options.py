"""CPython onnxruntime session options vs one block of the gold U-Net: can pyapp run the kernels faster?

Run: ``.venv/bin/python benchmarks/ort_options.py [--model M] [--repeat N]``. Each option set gets its own
session; rounds alternate between them; per option the median wall and CPU time (all threads) of one
``session.run`` on the model's input shape are printed. Context for ``predict_vs_bioimageio.py``: both tools
run these kernels, so only an option that makes them faster could move the wall ratio below the kernel floor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "shared/corpus/bioimageio-examples/models/unet2d_nuclei_broad/bioimageio.yaml"


def main() -> int:
    import onnxruntime as ort

    from pyapp.runtime import read_weights
    from pyapp.spec import load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="bioimageio.yaml with ONNX weights")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of 5 runs per option set (3)")
    args = parser.parse_args()
    descr = load(args.model)
    weights = read_weights(descr, descr.weights["onnx"])
    level = ort.GraphOptimizationLevel
    variants = {
        "default (what both tools use)": {},
        "pyapp's (no memory pattern)": {"enable_mem_pattern": False},
        "intra_op_num_threads=1": {"intra_op_num_threads": 1},
        "no spinning": {"config": {"session.intra_op.allow_spinning": "0"}},
        "denormals as zero": {"config": {"session.set_denormal_as_zero": "1"}},
        "graph optimisation extended": {"graph_optimization_level": level.ORT_ENABLE_EXTENDED},
    }
    sessions = {}
    for name, settings in variants.items():
        options = ort.SessionOptions()
        options.log_severity_level = 3
        for key, value in settings.items():
            if key == "config":
                for entry, setting in value.items():
                    options.add_session_config_entry(entry, setting)
            else:
                setattr(options, key, value)
        sessions[name] = ort.InferenceSession(weights, options, providers=["CPUExecutionProvider"])
    graph_input = next(iter(sessions.values())).get_inputs()[0]
    x = np.random.default_rng(0).standard_normal([n if isinstance(n, int) else 1 for n in graph_input.shape])
    feed = {graph_input.name: x.astype(np.float32)}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in sessions}
    for _ in range(args.repeat):
        for name, session in sessions.items():
            session.run(None, feed)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(5):
                session.run(None, feed)
            results[name].append(((time.perf_counter() - wall) / 5, (time.process_time() - cpu) / 5))
    print(f"model: {args.model}, input {list(x.shape)}, {args.repeat} rounds of 5 runs, medians")
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs) * 1000
        cpu = statistics.median(r[1] for r in runs) * 1000
        print(f"{name:<32} wall {wall:7.1f} ms   cpu {cpu:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
