"""Why the per-user night share misses: its quantiles, real against generated datasets.

Prints the per-user night share (``zen.measures.individual``, events at 00-06 h) of the real
training and held-out Copenhagen users and of each dataset given, at quantiles 10..90 %, its KS
distance to the held-out users, and the same on the dataset's first ``--first-days`` days
(a 91-day dataset against 28 real days has less count noise per user; cutting it to 28 days
shows how much of its distance is that alone). Also the share of users with no night event.

    python scripts/night_share_quantiles.py outputs/conversations/seed0/d28-partners ...
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zen.api import compose  # noqa: E402
from zen.data import load_copenhagen  # noqa: E402
from zen.data.split import split_users  # noqa: E402
from zen.io.dataset import read_dataset  # noqa: E402
from zen.measures.individual import user_features  # noqa: E402

COPENHAGEN = Path(os.environ.get("ZEN_DATA") or REPO.parent / "shared" / "data") / "copenhagen"
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def night_shares(records: pd.DataFrame, days: float) -> np.ndarray:
    """Per-user night share of the users with records. ``[n_users]``."""
    return user_features(records, days)["night_share"].dropna().to_numpy()


def ks(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def row(name: str, x: np.ndarray, holdout: np.ndarray) -> str:
    q = " | ".join(f"{v:.3f}" for v in np.quantile(x, QUANTILES))
    return f"| {name} | {len(x)} | {q} | {(x == 0).mean():.2f} | {x.std():.3f} | {ks(x, holdout):.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    parser.add_argument("--first-days", type=float, default=28.0)
    args = parser.parse_args()
    data = load_copenhagen(COPENHAGEN)
    split = split_users(data.user_ids, **compose("train", [])["data"]["split"])  # the project's split
    holdout = night_shares(data.subset(split.holdout).records, data.days)
    print("| records | users | " + " | ".join(f"q{int(q * 100)}" for q in QUANTILES)
          + " | no night event | sd | KS to held-out |")
    print("|---|---|" + "---|" * len(QUANTILES) + "---|---|---|")
    print(row("real training users", night_shares(data.subset(split.train).records, data.days), holdout))
    print(row("real held-out users", holdout, holdout))
    for path in args.datasets:
        ds = read_dataset(path)
        print(row(f"{path.name} ({ds.days:g} d)", night_shares(ds.records, ds.days), holdout))
        if ds.days > args.first_days:
            cut = ds.records[ds.records["timestamp"] < ds.start + pd.Timedelta(days=args.first_days)]
            print(row(f"{path.name}, first {args.first_days:g} d", night_shares(cut, args.first_days),
                      holdout))


if __name__ == "__main__":
    main()
