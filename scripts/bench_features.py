"""Time and peak memory of the zen-features engines (local DuckDB vs Spark) on synthetic CDRs.

    nice -n 10 python scripts/bench_features.py --sizes 1000000 10000000 --engines local spark

Records are generated here (seeded): 100 records per user over 28 days, each user with a home
cell (60 % of events there, the rest anywhere), counterparts on-network (80 %) or off-network.
The two engines' feature tables are compared value by value (largest absolute and relative
difference). Each (engine, size) runs in a fresh child process; peak memory is the largest summed RSS of that
process and its children (the Spark JVM included), sampled every 0.2 s; CPU time is their summed
user + system time at the end of the run (the fairer figure on a shared machine).
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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]


def make_records(n: int, seed: int = 0) -> tuple[pa.Table, pd.DataFrame]:
    """``n`` records in Zen's schema (``n / 100`` users) and ``n / 10^4`` antennas (~100 home users each)."""
    rng = np.random.default_rng(seed)
    users, cells = max(n // 100, 10), max(min(n // 10_000, 5000), 10)
    user = rng.integers(0, users, n)
    home = rng.integers(0, cells, users)
    event = rng.choice(np.array(["call", "sms", "data"]), n, p=[0.35, 0.45, 0.2])
    direction = np.where(event == "data", "out", rng.choice(np.array(["out", "in"]), n))
    start = np.datetime64("2024-01-01T00:00:00", "us")
    seconds = rng.integers(0, 28 * 86_400, n).astype("timedelta64[s]")
    counterpart = np.where(rng.random(n) < 0.8, rng.integers(0, users, n), users + rng.integers(0, users, n))
    records = pa.table({
        "user_id": user,
        "timestamp": pa.array(start + seconds, pa.timestamp("us", tz="UTC")),
        "event": event, "direction": direction,
        "duration_s": np.where(event == "sms", 0.0, rng.exponential(90.0, n)).astype(np.float32),
        "answered": np.ones(n, bool),
        "counterpart_id": np.where(event == "data", -1, counterpart),
        "cell_id": np.where(rng.random(n) < 0.6, home[user], rng.integers(0, cells, n)),
        "volume_bytes": np.full(n, -1),
    })
    antennas = pd.DataFrame({"cell_id": np.arange(cells), "lat": 55.6 + rng.random(cells) * 0.2,
                             "lon": 12.4 + rng.random(cells) * 0.3})
    return records, antennas


def child(records_path: str, antennas_path: str, engine: str, result_path: str) -> None:
    """Run one engine on one input (in a fresh process) and write its timings as JSON."""
    sys.path.insert(0, str(REPO))
    from zen.features import FeatureParams, compute_features

    t0 = time.perf_counter()
    records = pq.read_table(records_path).to_pandas()
    antennas = pd.read_parquet(antennas_path)
    t1 = time.perf_counter()
    spark = {"master": "local[2]", "shuffle_partitions": 8, "driver_memory": "6g"}
    options = spark if engine == "spark" else {"memory_limit": "6GB"}
    out = compute_features(records, antennas, FeatureParams(min_home_users=10, n_chunks=4), engine=engine,
                           engine_options=options)
    t2 = time.perf_counter()
    out.features.to_parquet(Path(result_path).with_suffix(".parquet"))
    Path(result_path).write_text(json.dumps({"read_s": t1 - t0, "features_s": t2 - t1,
                                             "unify_s": out.seconds["unify"],
                                             "cpu_s": _tree_usage(os.getpid())[1],
                                             "antennas": len(out.features), **out.counts}))


def _tree_usage(root: int) -> tuple[float, float]:
    """Summed RSS (MiB) and CPU time (s, user + system) of ``root`` and its descendants (Linux /proc)."""
    parents, rss, cpu = {}, {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            cpu[int(entry)] = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == pid and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss.get(p, 0) for p in tree) / 2**20, sum(cpu.get(p, 0.0) for p in tree)


def measure(records_path: Path, antennas_path: Path, engine: str, timeout_s: float) -> dict:
    result = records_path.parent / f"result-{engine}.json"
    cmd = [sys.executable, __file__, "--child", str(records_path), str(antennas_path), engine, str(result)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_usage(proc.pid)[0])
        if time.perf_counter() - started > timeout_s:
            proc.kill()
            return {"engine": engine, "status": f"killed after {timeout_s:.0f} s", "peak_mib": round(peak)}
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"engine": engine, "status": f"failed: {proc.stderr.strip().splitlines()[-1]}"}
    info = json.loads(result.read_text())
    return {"engine": engine, "status": "ok", "wall_s": round(wall, 1), "read_s": round(info["read_s"], 1),
            "features_s": round(info["features_s"], 1), "unify_s": round(info["unify_s"], 1),
            "cpu_s": round(info["cpu_s"]), "peak_mib": round(peak), "antennas": info["antennas"],
            "users": info["users"], "machine_users": info["machine_users"]}


def compare(local_path: Path, spark_path: Path) -> dict:
    """Largest absolute and relative difference between the two engines' feature tables."""
    if not (local_path.exists() and spark_path.exists()):
        return {"engine": "local vs spark", "status": "not compared (a run failed)"}
    local, spark = pd.read_parquet(local_path), pd.read_parquet(spark_path)
    if local.shape != spark.shape or list(local.columns) != list(spark.columns):
        return {"engine": "local vs spark", "status": f"different shapes {local.shape} vs {spark.shape}"}
    a, b = local.to_numpy(float), spark.to_numpy(float)
    same_nan = bool((np.isnan(a) == np.isnan(b)).all())
    diff = np.abs(np.nan_to_num(a) - np.nan_to_num(b))
    rel = diff / np.maximum(np.abs(np.nan_to_num(a)), 1e-300)
    return {"engine": "local vs spark", "status": "ok" if same_nan else "NaN pattern differs",
            "max_abs_diff": float(diff.max()), "max_rel_diff": float(rel[diff > 0].max(initial=0.0))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--engines", nargs="+", default=["local", "spark"])
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run before it is killed")
    parser.add_argument("--out", default=str(REPO / "experiments" / "features_bench.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="zen-bench-features-") as tmp:
        for n in args.sizes:
            records, antennas = make_records(n)
            records_path, antennas_path = Path(tmp) / f"records-{n}.parquet", Path(tmp) / "antennas.parquet"
            pq.write_table(records, records_path)
            antennas.to_parquet(antennas_path)
            del records
            for engine in args.engines:
                row = {"records": n, **measure(records_path, antennas_path, engine, args.timeout)}
                print(json.dumps(row), flush=True)
                rows.append(row)
            if set(args.engines) == {"local", "spark"}:
                rows.append({"records": n, **compare(Path(tmp) / "result-local.parquet",
                                                     Path(tmp) / "result-spark.parquet")})
                print(json.dumps(rows[-1]), flush=True)
    meta = {"machine": f"{platform.machine()} VM, {os.cpu_count()} cores, shared",
            "python": platform.python_version(), "load_avg_at_end": os.getloadavg()}
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
