"""Paired timings of whole ``zen-generate`` processes under several executors (issue 20).

Every round runs each setting once, in an order rotated from round to round (A B C, B C A,
C A B, ...), so a drift in the machine's speed hits all of them alike; the ratios to the first
setting are taken round by round and their median is reported, with the spread.

    python scripts/bench_scale.py --model outputs/train/<run>/model --users 100000 --days 7 \\
        --settings "workers=1" "workers=2" "executor=ray workers=2"

A setting written ``base: <overrides>`` runs the code of ``--base DIR`` instead (a checkout of older
code, e.g. ``git archive <commit> | tar -x -C DIR``, put first on ``PYTHONPATH``), so old and new
code alternate in the same rounds; a setting may set its own ``shard_users``.

Prints a markdown table (wall, CPU of the command and everything it waited for, peak RSS of the
largest process, time split from the manifest) and ``/proc/loadavg`` before every round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generate import _run  # noqa: E402  (one definition of the timed, peak-RSS subprocess)

PARTS = ("setup", "population", "traffic", "mobility", "assembly", "write")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _one(setting: str, args: argparse.Namespace, out: Path) -> dict | None:
    """One ``zen-generate`` process with ``setting``: wall, CPU, peak RSS and the manifest's split
    (None, its error printed, when it failed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    base = setting.startswith("base:")
    overrides = setting.removeprefix("base:").split()
    if args.shard_users and not any(o.startswith("shard_users=") for o in overrides):
        overrides.append(f"shard_users={args.shard_users}")
    try:
        wall, rss, _ = _run([sys.executable, "-m", "zen.cli.generate", f"model_dir={args.model}",
                             f"n_users={args.users}", f"days={args.days}", f"out_dir={out}", "overwrite=true",
                             f"network={args.network}", "progress=false", "device=cpu",
                             f"hydra.run.dir={out}-hydra", *overrides],
                            env={"PYTHONPATH": str(args.base)} if base else None)
    except SystemExit as failed:
        print(f"[{setting}] {failed}", flush=True)
        return None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    manifest = json.loads((out / "manifest.json").read_text())
    return {"wall": wall, "cpu": cpu, "rss": rss, "records": manifest["rows"]["records"],
            "split": {k: manifest["timings_s"].get(k, 0.0) for k in PARTS},
            "checksums": manifest["checksums"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="model folder written by zen-train")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--network", default="milan")
    parser.add_argument("--shard-users", type=int, default=None,
                        help="shard_users for every setting that sets none (default: each code's own)")
    parser.add_argument("--settings", nargs="+", default=["workers=1", "workers=2", "executor=ray workers=2"],
                        help="zen-generate overrides per setting, the first is the reference")
    parser.add_argument("--base", type=Path, help="older code for the settings written 'base: ...'")
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds (after the warm-up rounds)")
    parser.add_argument("--warmups", type=int, default=1, help="warm-up rounds, not counted (0: none)")
    args = parser.parse_args()
    settings = args.settings
    runs: dict[str, list[dict]] = {s: [] for s in settings}
    loads, failures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + args.warmups):
            loads.append(_loadavg())
            order = settings[r % len(settings):] + settings[:r % len(settings)]
            for setting in order:
                res = _one(setting, args, Path(tmp) / f"run-{settings.index(setting)}")
                if res is None:
                    failures[setting] = failures.get(setting, 0) + 1
                    continue
                warm = " (warm-up)" if r < args.warmups else ""
                print(f"round {r}{warm} [{setting}] wall {res['wall']:.1f} s "
                      f"cpu {res['cpu']:.1f} s rss {res['rss']:.0f} MiB load {_loadavg()}", flush=True)
                if r >= args.warmups:
                    runs[setting].append(res)
    first = runs[settings[0]][0]["checksums"]
    same = [s for s in settings if all(run["checksums"] == first for run in runs[s])]
    ref = settings[0]
    print(f"\n{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
          f"{args.users:,} users x {args.days:g} days, {args.network} towers, "
          f"{f'{args.shard_users:,}-user' if args.shard_users else 'default'} shards, {args.rounds} rounds "
          f"after {args.warmups} warm-up round(s); /proc/loadavg before each round: "
          f"{' | '.join(loads)}; settings whose datasets are identical to the first's: {same}; failed runs: "
          f"{failures or 'none'}\n")
    print("| setting | wall (median) | ratio to `" + ref + "` (median, min-max) | CPU (median) | peak RSS "
          "(largest process) | time split (sum over shards, s) |")
    print("|---|---|---|---|---|---|")
    for s in settings:
        ref_wall = statistics.median(y["wall"] for y in runs[ref])  # unpaired only when a run failed
        ratios = [a["wall"] / b["wall"] for a, b in zip(runs[s], runs[ref], strict=True)] \
            if not failures else [x["wall"] / ref_wall for x in runs[s]]
        split = {k: statistics.median(run["split"][k] for run in runs[s]) for k in PARTS}
        print(f"| `{s}` | {statistics.median(x['wall'] for x in runs[s]):.1f} s | "
              f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
              f"{statistics.median(x['cpu'] for x in runs[s]):.1f} s | "
              f"{max(x['rss'] for x in runs[s]):,.0f} MiB | "
              + " · ".join(f"{k} {v:.1f}" for k, v in split.items()) + " |")


if __name__ == "__main__":
    main()
