"""Loading benchmark: a synthetic operator export of 10M / 100M rows through both engines.

    python scripts/bench_loading.py make --rows 10000000 --out /tmp/zen-loading
    python scripts/bench_loading.py run --rows 10000000 --out /tmp/zen-loading

``make`` writes one export per format: ``ops_<rows>.csv.gz`` and ``ops_<rows>.parquet`` (one file)
up to 10M rows, a folder of 10 part files (as daily files) above. Columns as an operator writes
them: msisdn, other_party, start_time (text), type (VOICE/SMS/DATA), direction (MO/MT),
duration (s), cell_id; 100 rows per user over 28 days.

``run`` times load + filter (a 14-day period) + user split (train + val kept) in a fresh process
per case (CPU s: user + system of all its threads; peak RSS: its ``ru_maxrss``), the engines
alternated (``pandas-main``: the main branch's loader, imported from /work/main), and prints a
markdown table with ``/proc/loadavg`` beside each row. Numbers go to experiments/loading.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

PERIOD = ("2024-03-11", "2024-03-25")  # 14 of the 28 days
SPLIT = {"val_fraction": 0.15, "holdout_fraction": 0.25, "seed": 0}
MAPPING = {"columns": {"user_id": "msisdn", "counterpart_id": "other_party", "timestamp": "start_time",
                       "event": "type", "duration_s": "duration", "cell_id": "cell_id"},
           "timestamp_format": "%Y-%m-%d %H:%M:%S",
           "event_values": {"VOICE": "call", "SMS": "sms", "DATA": "data"},
           "direction_values": {"MO": "out", "MT": "in"}}
PART_ROWS = 10_000_000  # rows per part file above this size
MAIN = Path("/work/main")  # engine pandas-main: the loader of the main branch (before this change)


def _select(rows: int, offset: int = 0) -> str:
    users = max(1, rows // 100)
    return f"""
SELECT 4520000000 + hash(i, 1) % {users} AS msisdn,
       4520000000 + hash(i, 2) % {3 * users} AS other_party,
       strftime(TIMESTAMP '2024-03-04' + to_seconds((hash(i, 3) % {28 * 86400})::BIGINT),
                '%Y-%m-%d %H:%M:%S') AS start_time,
       CASE WHEN hash(i, 4) % 10 < 6 THEN 'VOICE' WHEN hash(i, 4) % 10 < 9 THEN 'SMS' ELSE 'DATA' END AS type,
       CASE WHEN hash(i, 4) % 10 >= 9 OR hash(i, 5) % 2 = 0 THEN 'MO' ELSE 'MT' END AS direction,
       CASE WHEN hash(i, 4) % 10 < 6 THEN hash(i, 6) % 600 WHEN hash(i, 4) % 10 < 9 THEN 0
            ELSE hash(i, 6) % 3600 END AS duration,
       hash(i, 7) % 5000 AS cell_id
FROM range({offset}, {offset + min(rows, PART_ROWS) if rows > PART_ROWS else offset + rows}) t(i)"""


def inputs(rows: int, out: Path) -> dict[str, Path]:
    """The export of ``rows`` rows per format: a file, or a folder of parts above 10M rows."""
    return {fmt: out / (f"ops_{rows}.{fmt}" if rows <= PART_ROWS else f"ops_{rows}_{fmt.replace('.', '_')}")
            for fmt in ("csv.gz", "parquet")}


def make(rows: int, out: Path) -> None:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for fmt, target in inputs(rows, out).items():
        if target.exists():
            continue
        opts = "(HEADER, COMPRESSION gzip)" if fmt == "csv.gz" else "(FORMAT parquet)"
        t0 = time.perf_counter()
        if rows <= PART_ROWS:
            con.sql(f"COPY ({_select(rows)}) TO '{target}.tmp' {opts}")
            os.replace(f"{target}.tmp", target)
        else:
            tmp = Path(f"{target}.tmp")
            tmp.mkdir(exist_ok=True)
            for part, offset in enumerate(range(0, rows, PART_ROWS)):
                con.sql(f"COPY ({_select(rows, offset)}) TO '{tmp / f'part-{part:02d}.{fmt}'}' {opts}")
            tmp.rename(target)
        print(f"{target}: {time.perf_counter() - t0:.0f} s", flush=True)


def case(engine: str, path: Path, max_users: int | None) -> dict:
    """One load in this process: engine, seconds, peak RSS, rows and users kept."""
    import pandas as pd

    from zen.data.generic import load_generic
    from zen.data.split import split_users

    t0 = time.perf_counter()
    if engine.startswith("pandas"):  # read everything, then filter and split in pandas
        data = load_generic(path, MAPPING) if engine == "pandas-main" else \
            load_generic(path, MAPPING, engine="pandas")
        rec = data.records
        keep = (rec["timestamp"] >= pd.Timestamp(PERIOD[0], tz="UTC")) & \
            (rec["timestamp"] < pd.Timestamp(PERIOD[1], tz="UTC"))
        rec = rec[keep.to_numpy()]
        split = split_users(rec["user_id"].unique(), **SPLIT)
        kept = rec[rec["user_id"].isin(list(split.train) + list(split.val)).to_numpy()]
        rows, users = len(kept), len(split.train) + len(split.val)
    else:
        from zen.data.stream import period_filter

        data = load_generic(path, MAPPING, engine="duckdb", split=SPLIT, keep=["train", "val"],
                            users={"max": max_users, "seed": 0},
                            sql_filters=[period_filter("start_time", *PERIOD)])
        rows, users = len(data.records), len(data.user_ids)
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process (DuckDB's too)
    return {"engine": engine, "seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_gib": usage.ru_maxrss / 2 ** 20, "rows": rows, "users": users}


def run(rows: int, out: Path, engines: list[str], max_users: int | None) -> None:
    print("| rows | input | engine | users kept | rows kept | wall s | CPU s | peak RSS GiB | "
          "loadavg (1/5/15 min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt, path in inputs(rows, out).items():
        for engine in engines:
            loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            cmd = [sys.executable, __file__, "case", "--engine", engine, "--path", str(path)]
            env = dict(os.environ, PYTHONPATH=str(MAIN)) if engine == "pandas-main" else None
            if max_users and engine == "duckdb-sample":
                cmd += ["--max-users", str(max_users)]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"| {rows:,} | {fmt} | {engine} | failed: {tail} | | | | | {loadavg} |", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {rows:,} | {fmt} | {engine} | {r['users']:,} | {r['rows']:,} | {r['seconds']:.1f} | "
                  f"{r['cpu_s']:.1f} | {r['peak_rss_gib']:.2f} | {loadavg} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["make", "run", "case"])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/zen-loading"))
    parser.add_argument("--engines", default="duckdb,pandas,duckdb-sample")
    parser.add_argument("--max-users", type=int, default=None)
    parser.add_argument("--engine")
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.what == "make":
        make(args.rows, args.out)
    elif args.what == "run":
        run(args.rows, args.out, args.engines.split(","), args.max_users)
    else:
        engine = "duckdb" if args.engine == "duckdb-sample" else args.engine
        print(json.dumps(case(engine, args.path, args.max_users)))


if __name__ == "__main__":
    main()
