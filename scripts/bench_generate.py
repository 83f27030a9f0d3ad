"""Benchmark ``zen-generate`` end to end: time, events/s, peak RSS and time per module.

Each size runs as its own process (``/usr/bin/time``-style peak RSS from ``resource``), beside
a minimal vectorised rule-based CDR generator (homogeneous Poisson per user, random counterpart,
random cell, written to Parquet) as the speed reference, in the same run.

    python scripts/bench_generate.py --model outputs/quickstart/model --users 1000 10000 100000
    python scripts/bench_generate.py ... --out experiments/generate_results.csv

Prints a markdown table; ``--out`` also saves the rows as CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULE_BASED = r"""
import sys, time, numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
n_users, days, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
rng = np.random.default_rng(0)
start = pd.Timestamp("2013-02-04", tz="UTC")
n = rng.poisson(np.exp(rng.normal(1.0, 1.0, n_users)) * days)
user = np.repeat(np.arange(n_users), n)
m = len(user)
t = np.sort(rng.random(m) * days * 86400)
table = pa.table({
    "user_id": user, "timestamp": pa.array((start.value // 1000 + (t * 1e6).astype(np.int64)),
                                             pa.timestamp("us", tz="UTC")),
    "event": np.where(rng.random(m) < 0.3, "call", "sms"),
    "direction": np.where(rng.random(m) < 0.5, "out", "in"),
    "duration_s": rng.exponential(120, m).astype(np.float32), "answered": rng.random(m) > 0.1,
    "counterpart_id": rng.integers(0, n_users, m), "cell_id": rng.integers(0, 8280, m),
    "volume_bytes": np.full(m, -1)})
pq.write_table(table, out)
print(m, time.perf_counter() - t0)
"""


PEAK_RSS = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
            "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(rc)")


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) of the command alone, and its stdout (``env``: added variables)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, *cmd], capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    peak_kib = int(proc.stderr.rsplit("PEAK_RSS_KIB", 1)[1].split()[0])
    return wall, peak_kib / 1024.0, proc.stdout


def _bench_zen(model: Path, n: int, args: argparse.Namespace, tmp: Path) -> dict:
    """One ``zen-generate`` process: wall time, peak RSS and the manifest's time per module."""
    kind = (model / "traffic" / "kind.txt").read_text().strip()
    out = tmp / f"zen-{kind}-{n}"
    wall, rss, _ = _run([sys.executable, "-m", "zen.cli.generate", f"model_dir={model}",
                         f"n_users={n}", f"days={args.days}", f"out_dir={out}",
                         f"network={args.network}", f"shard_users={args.shard_users}",
                         "progress=false", "device=cpu", f"hydra.run.dir={tmp}/hydra-{kind}-{n}"])
    manifest = json.loads((out / "manifest.json").read_text())
    t = manifest["timings_s"]
    events = manifest["rows"]["records"]
    modules = {k: t.get(k, 0.0) for k in ("setup", "population", "traffic", "mobility", "assembly", "write")}
    share = " / ".join(f"{k} {100 * v / t['total']:.0f}%" for k, v in modules.items())
    return {"generator": f"zen ({kind} traffic)", "users": n, "days": args.days, "events": events,
            "wall_s": round(wall, 1), "events_per_s": round(events / wall), "peak_rss_mib": round(rss),
            "time_share": share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, nargs="+", help="model folder(s) written by zen-train")
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--network", default="milan")
    parser.add_argument("--shard-users", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=None, help="CSV of the rows")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.users):
            for model in args.model:
                rows.append(_bench_zen(Path(model), n, args, Path(tmp)))
                print(rows[-1], flush=True)
            ref = Path(tmp) / f"rule-{n}.parquet"
            wall_r, rss_r, stdout = _run([sys.executable, "-c", RULE_BASED, str(n), str(args.days), str(ref)])
            m = int(stdout.split()[0])
            rows.append({"generator": "rule-based reference", "users": n, "days": args.days, "events": m,
                         "wall_s": round(wall_r, 1), "events_per_s": round(m / wall_r),
                         "peak_rss_mib": round(rss_r), "time_share": ""})
            print(rows[-1], flush=True)
    host = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nhost: {host}\n")
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if args.out:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
