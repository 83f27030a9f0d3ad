"""Benchmark the population build of ``zen-generate`` (activity, anchors, social graph, contact table).

Each size runs :func:`zen.generation.pipeline.build_population` in its own process, on the Milan
towers' places (``network=milan``), and reports the build's wall time, the process's peak RSS
(``resource.getrusage`` right after the build, whole process: Python, torch, the model and places
included), the RSS before the build, and the bytes of the state the run keeps (the population
arrays and the edges). ``--base DIR`` (older code, e.g. ``git archive <commit> | tar -x -C DIR``)
runs the same sizes with that code, alternated with this checkout's, and each run prints a digest
of the population so the table shows whether both build the same one.

    python scripts/bench_population.py --model /path/to/model --users 1000000 3000000 \
        --base /tmp/zen-base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import hashlib, json, resource, sys, time
from pathlib import Path
import numpy as np
from omegaconf import OmegaConf
from zen.generation.pipeline import build_population, load_models
from zen.generation.spec import GenerationSpec
from zen.network import build_infrastructure
model_dir, n = sys.argv[1], int(sys.argv[2])
models = load_models(model_dir)
net = OmegaConf.to_container(OmegaConf.load("zen/configs/network/milan.yaml"))
_, places = build_infrastructure(net, Path("/work/shared/data"), 0)
spec = GenerationSpec(n_users=n, days=7.0, seed=0)
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
before = rss()
t = time.perf_counter()
pop, edges = build_population(spec, models, places)
took, peak = time.perf_counter() - t, rss()
arrays = {k: v for k, v in vars(pop).items() if isinstance(v, np.ndarray)}
state = sum(a.nbytes for a in arrays.values()) + int(edges.memory_usage(index=False, deep=True).sum())
h = hashlib.sha256()
for a in [*arrays.values(), *(edges[c].to_numpy() for c in edges.columns)]:
    for lo in range(0, len(a), 1 << 18):  # values as int64 / float64, in blocks (memory)
        b = a[lo:lo + (1 << 18)]
        h.update(np.ascontiguousarray(b, np.float64 if b.dtype.kind == "f" else np.int64).tobytes())
print(json.dumps({"seconds": took, "peak_mib": peak, "before_mib": before, "state_mib": state / 2**20,
                  "edges": len(edges), "dtypes": {k: str(a.dtype) for k, a in arrays.items()},
                  "digest": h.hexdigest()[:16]}))
"""


def _run(code: Path, model: Path, n: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model), str(n)], capture_output=True,
                          text=True, env=env, cwd=code)
    if proc.returncode != 0:
        sys.exit(f"failed with {code} at {n} users:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="a model folder written by zen-train")
    ap.add_argument("--users", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--base", type=Path, help="a checkout of the code to compare with")
    ap.add_argument("--base-users", type=int, nargs="*", help="sizes for --base (default: --users)")
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[1]
    base_users = args.users if args.base_users is None else args.base_users
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
    print("| code | users | edges | build s | peak RSS MiB | RSS before MiB | state MiB | digest |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sorted(set(args.users) | set(base_users if args.base else [])):
        for name, code in (("old", args.base), ("new", here)):
            wanted = base_users if name == "old" else args.users
            if code is None or n not in wanted:
                continue
            r = _run(code.resolve(), args.model, n)
            print(f"| {name} | {n:,} | {r['edges']:,} | {r['seconds']:.1f} | {r['peak_mib']:,.0f} | "
                  f"{r['before_mib']:,.0f} | {r['state_mib']:,.0f} | {r['digest']} |", flush=True)
            print(f"  dtypes: {r['dtypes']}", file=sys.stderr)
    print(f"\nload after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
