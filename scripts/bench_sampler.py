"""Benchmark the traffic sampler and the mobility emulator alone: user-steps/s, one torch thread.

Each measurement is its own process; ``--base DIR`` (a checkout of older code, e.g.
``git archive <commit> | tar -x -C DIR``) runs the same batch with that code, alternated with
this checkout's (A B A B ...) so that both see the same machine load. Every run prints a digest
of what it sampled, so the table also shows whether old and new give the same output.

    python scripts/bench_sampler.py --model /path/to/model --users 20000 --days 7 \
        --base /tmp/zen-base --repeats 3

A user-step is one row of the lock-step batch: one event (or tick) drawn for one user, counting
each user's last draw, the one past the horizon. Mobility steps are the stays simulated
(Milan towers' places, ``network=milan``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import hashlib, json, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from zen.generation.pipeline import load_models
from zen.mobility import MobilityEmulator
from omegaconf import OmegaConf
from zen.network import build_infrastructure
model_dir, n, days, part = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
models = load_models(model_dir)
start = pd.Timestamp("2013-02-04", tz="UTC")
if part == "traffic":
    rng = np.random.default_rng(1)
    activity = models.traffic.sample_activity(n, rng)
    t = time.perf_counter()
    tl = models.traffic.sample(n, days, start, seed=7, activity=activity)
    took = time.perf_counter() - t
    steps = len(tl) + n
    arrays = [tl.user, tl.t_s, tl.event, tl.direction, tl.duration_s, tl.answered, tl.contact_rank]
else:
    from zen.mobility.emulator import choose_anchors
    net = OmegaConf.to_container(OmegaConf.load("zen/configs/network/milan.yaml"))
    _, places = build_infrastructure(net, Path("/work/shared/data"), 0)
    home, work = choose_anchors(places, n, models.mobility, np.random.default_rng(2))
    t = time.perf_counter()
    stays = MobilityEmulator(models.mobility).simulate(places, home, work, days, start, seed=7)
    took = time.perf_counter() - t
    steps = len(stays.user)
    arrays = [stays.user, stays.start_s, stays.end_s, stays.place]
digest = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()[:16]
print(json.dumps({"seconds": took, "steps": steps, "digest": digest}))
"""


def _run(code: Path, model: Path, n: int, days: float, part: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model), str(n), str(days), part],
                          capture_output=True, text=True, env=env, cwd=code)
    if proc.returncode != 0:
        sys.exit(f"failed with {code}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="a model folder written by zen-train")
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--base", type=Path, help="a checkout of the code to compare with")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parts", nargs="+", default=["traffic", "mobility"])
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[1]
    codes = {"new": here, **({"old": args.base.resolve()} if args.base else {})}
    print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
    for part in args.parts:
        runs: dict[str, list[dict]] = {k: [] for k in codes}
        for _ in range(args.repeats):
            for name, code in reversed(codes.items()):
                runs[name].append(_run(code, args.model, args.users, args.days, part))
        print(f"\n{part}: {args.users} users x {args.days:g} days, one thread, {args.repeats} runs each")
        print("| code | user-steps | seconds (median) | user-steps/s | digest |")
        print("|---|---|---|---|---|")
        med = {}
        for name, rs in runs.items():
            med[name] = statistics.median(r["seconds"] for r in rs)
            digests = sorted({r["digest"] for r in rs})
            print(f"| {name} | {rs[0]['steps']:,} | {med[name]:.2f} | {rs[0]['steps'] / med[name]:,.0f} "
                  f"| {' '.join(digests)} |")
        if "old" in med:
            ratios = [n["seconds"] / o["seconds"] for n, o in zip(runs["new"], runs["old"], strict=True)]
            print(f"time new/old: {statistics.median(ratios):.2f} (runs: "
                  f"{', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"\nload after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
