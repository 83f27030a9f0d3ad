"""Antenna features of real (Copenhagen held-out users) vs synthetic (zen-generate) CDRs.

    nice -n 10 python scripts/features_real_vs_synthetic.py --synthetic outputs/generate/<run>/dataset

The Copenhagen data have no serving cells, so per-antenna features cannot be computed on them.
Both datasets are therefore also reduced to one pseudo-antenna holding every user (cell_id 0):
the level 0-4 pipeline then gives population-level features (ratios, weekend/working-hour
shares, per-user rates) that are comparable. The synthetic dataset's real per-antenna features
are summarised as well, and level 1's home antennas are checked against the generator's own
``home_cell`` of each synthetic user. Prints Markdown tables (paste into experiments/features.md).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zen.data import load_copenhagen, split_users  # noqa: E402
from zen.features import FeatureParams, compute_features  # noqa: E402
from zen.io.dataset import read_dataset  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
POPULATION = ["calls_ratio", "sms_ratio", "call_s_ratio", "sms_per_call", "calls_per_user", "sms_per_user",
              "og_calls_weekend_share", "og_sms_weekend_share", "og_calls_work_share", "og_sms_work_share",
              "og_calls_peak_ratio", "og_sms_peak_ratio"]


def one_antenna(records: pd.DataFrame, days: float) -> pd.Series:
    """Population features of ``records`` with every event put on one pseudo-antenna."""
    records = records.assign(cell_id=0)
    antennas = pd.DataFrame({"cell_id": [0], "lat": [0.0], "lon": [0.0]})
    out = compute_features(records, antennas, FeatureParams(min_home_users=1))
    row = out.features.iloc[0]
    rates = ["calls_per_user", "sms_per_user"]
    per_day = (row[rates] / days).rename(lambda name: f"{name}_day")
    return pd.concat([row[POPULATION].drop(rates), per_day, pd.Series({"users": row["home_users"]})])


def markdown(frame: pd.DataFrame) -> str:
    """A Markdown table with 4 significant digits."""
    lines = ["| | " + " | ".join(map(str, frame.columns)) + " |", "|---" * (len(frame.columns) + 1) + "|"]
    for name, values in frame.iterrows():
        lines.append(f"| {name} | " + " | ".join(f"{float(v):.4g}" for v in values) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", required=True, help="a dataset folder written by zen-generate")
    parser.add_argument("--copenhagen", default=str(SHARED / "copenhagen"))
    parser.add_argument("--k", type=int, default=5, help="k of the synthetic per-antenna features")
    args = parser.parse_args()

    real = load_copenhagen(args.copenhagen, start_date="2013-02-04", days=28)
    # the split of configs/data/copenhagen.yaml, as in zen-train and zen-evaluate
    split = split_users(real.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    holdout = real.records[real.records["user_id"].isin(split.holdout)]
    synthetic = read_dataset(args.synthetic)
    table = pd.DataFrame({"real (Copenhagen holdout)": one_antenna(holdout, real.days),
                          "synthetic": one_antenna(synthetic.records, synthetic.days)})
    print("### One pseudo-antenna (population-level features)\n")
    print(markdown(table))

    out = compute_features(synthetic.records, synthetic.antennas, FeatureParams(min_home_users=args.k),
                           keep_intermediate=True)
    homes = pd.read_parquet(out.work_dir / "level1" / "user_home")
    shutil.rmtree(out.work_dir)
    if synthetic.users is not None and "home_cell" in synthetic.users:
        truth = homes.merge(synthetic.users[["user_id", "home_cell"]], on="user_id", suffixes=("", "_true"))
        hits = (truth["home_cell"] == truth["home_cell_true"]).mean()
        print(f"\nLevel-1 home antenna = generator's home_cell for {hits:.1%} of {len(truth)} users")
    print(f"\n### Synthetic, per antenna (k = {args.k}): {out.counts}\n")
    columns = ["home_users", "calls_ratio", "sms_per_call", "calls_per_user", "og_calls_weekend_share",
               "og_calls_work_share", "calls_dist_mean_km", "calls_isolation", "calls_entropy"]
    summary = out.features[columns].describe(percentiles=[0.1, 0.5, 0.9]).T
    print(markdown(summary[["count", "10%", "50%", "90%"]]))


if __name__ == "__main__":
    main()
