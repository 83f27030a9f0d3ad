"""XDR data sessions against the published per-service models (Zanella et al., IMC 2023).

Draws ``--sessions`` data sessions with ``zen.sessions.add_sessions`` (what ``zen-generate``
does to every data record) and compares, per service: the share of sessions with the published
share, and the log10-volume distribution (KS) with an independent sample drawn from the
published mixture; durations: the share capped at ``max_duration_s`` and the share under a second,
and the median. Writes a markdown table.

    python scripts/bench_sessions.py --sessions 1000000 --table experiments/sessions.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zen.evaluation.metrics import ks_statistic  # noqa: E402
from zen.sessions import SessionModel, add_sessions  # noqa: E402

DATA = Path(os.environ.get("ZEN_SHARED_DATA", REPO.parent / "shared" / "data")) / "mobile_traffic_dists"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", type=Path)
    args = parser.parse_args()
    model = SessionModel.load(DATA)
    rng = np.random.default_rng(args.seed)
    start = pd.Timestamp("2013-02-04", tz="UTC")
    records = pd.DataFrame({"user_id": np.zeros(args.sessions, np.int64), "timestamp": start,
                            "event": "data", "direction": "out", "duration_s": 0.0, "answered": True,
                            "counterpart_id": -1, "cell_id": -1, "volume_bytes": -1})
    t = time.perf_counter()
    records = add_sessions(records, model, rng)
    elapsed = time.perf_counter() - t
    service = records["service"].astype(str).to_numpy()
    lines = [f"{args.sessions:,} sessions drawn in {elapsed:.2f} s ({platform.machine()}, one process, "
             f"{time.strftime('%Y-%m-%d')}); KS of log10(bytes) against {50_000:,} draws from each "
             "service's published mixture (goal ≤ 0.05).", "",
             "| service | published share | Zen share | log10 bytes KS | median bytes | median duration (s) "
             "| capped at 1 h | under 1 s |", "|---|---|---|---|---|---|---|---|"]
    worst = 0.0
    for k, name in enumerate(model.services):
        mine = service == name
        volume = records.loc[mine, "volume_bytes"].to_numpy(float)
        duration = records.loc[mine, "duration_s"].to_numpy(float)
        ks = ks_statistic(np.log10(volume), model.log10_bytes_sample(k, 50_000, rng))
        worst = max(worst, ks)
        lines.append(f"| {name} | {model.share[k]:.4f} | {mine.mean():.4f} | {ks:.4f} | "
                     f"{np.median(volume):,.0f} | {np.median(duration):.3g} | "
                     f"{(duration >= model.max_duration_s).mean():.3f} | {(duration < 1).mean():.3f} |")
    share = pd.Series(service).value_counts(normalize=True).reindex(model.services).to_numpy()
    lines += ["", f"Largest per-service KS {worst:.4f}; total variation of the service shares "
              f"{0.5 * np.abs(share - model.share).sum():.4f}."]
    text = "\n".join(lines)
    print(text)
    if args.table:
        args.table.write_text(text + "\n")


if __name__ == "__main__":
    main()
