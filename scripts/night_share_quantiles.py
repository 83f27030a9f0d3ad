"""Why the per-user night share misses: its quantiles, real against generated datasets.

Prints the per-user night share (``zen.measures.individual``, events at 00-06 h) of the real
training and held-out Copenhagen users and of each dataset given, at quantiles 10..90 %, its KS
distance to the held-out users, and the same on the dataset's first ``--first-days`` days
(a 91-day dataset against 28 real days has less count noise per user; cutting it to 28 days
shows how much of its distance is that alone). Also the share of users with no night event,
the KS of the night share of each user's *starter view* only (the conversations they started,
``zen.measures.conversations.started_by_user``) and the share of users with no night event in
their starter view but a night event in a conversation someone else started.

``--rewired SEED ...`` adds the real users with their receivers drawn at random: every user's
own starter view kept as it is, the on-network counterparts relabelled by a random permutation
of the users (the same partner stays the same person), and each user's records rebuilt as their
own view plus the mirror of the views others started with them — the real timelines on a graph
with no relation between partners' hours, which is what the synthetic graph has.

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
from zen.measures.conversations import started_by_user  # noqa: E402
from zen.measures.individual import NIGHT_HOURS, user_features  # noqa: E402

COPENHAGEN = Path(os.environ.get("ZEN_DATA") or REPO.parent / "shared" / "data") / "copenhagen"
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def night_shares(records: pd.DataFrame, days: float) -> np.ndarray:
    """Per-user night share of the users with records. ``[n_users]``."""
    return user_features(records, days)["night_share"].dropna().to_numpy()


def starter_view(records: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Per-user night share of the starter views ``[n]``, and the share of users whose starter
    view has no night event while a conversation others started with them has one."""
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    hour = records["timestamp"].dt.hour
    night = (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])
    frame = pd.DataFrame({"user": records["user_id"], "night": night, "own": started_by_user(records)})
    own = frame[frame["own"]].groupby("user")["night"].agg(["mean", "sum"])
    received = frame[~frame["own"]].groupby("user")["night"].sum()
    users = np.unique(frame["user"])
    own_nights = own["sum"].reindex(users).fillna(0).to_numpy()
    only_received = float(((own_nights == 0) & (received.reindex(users).fillna(0).to_numpy() > 0)).mean())
    return own["mean"].to_numpy(), only_received


def ks(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def row(name: str, records: pd.DataFrame, days: float, holdout: tuple) -> tuple[str, tuple]:
    """One table row of ``records`` against ``holdout`` (this function's second return value for
    the held-out users themselves)."""
    x = night_shares(records, days)
    own, only_received = starter_view(records)
    if holdout is None:
        holdout = (x, own)
    q = " | ".join(f"{v:.3f}" for v in np.quantile(x, QUANTILES))
    return (f"| {name} | {len(x)} | {q} | {(x == 0).mean():.2f} | {x.std():.3f} | {ks(x, holdout[0]):.3f} | "
            f"{ks(own, holdout[1]):.3f} | {only_received:.3f} |"), holdout


def rewired(data, seed: int) -> pd.DataFrame:
    """The real users' records with their receivers at random (module docstring, ``--rewired``);
    user ids are the data's own."""
    from zen.assembly import mirror_on_network

    ids = np.sort(data.user_ids)
    index = pd.Series(np.arange(len(ids)), index=ids)
    views = data.records[started_by_user(data.records)]
    perm = np.random.default_rng(seed).permutation(len(ids))
    on = views["counterpart_id"].isin(ids).to_numpy()
    cp = np.where(on, perm[index.reindex(views["counterpart_id"]).fillna(0).to_numpy(np.int64)], -1)
    user = index[views["user_id"]].to_numpy()
    keep = cp != user  # a conversation relabelled onto its own starter is dropped
    local = views.assign(user_id=user, counterpart_id=np.where(on, cp, views["counterpart_id"]))[keep]
    both = pd.concat([local, mirror_on_network(local, len(ids))], ignore_index=True)
    both["user_id"] = ids[both["user_id"].to_numpy()]
    back = both["counterpart_id"].between(0, len(ids) - 1) & (both["event"].astype(str) != "data")
    both.loc[back, "counterpart_id"] = ids[both.loc[back, "counterpart_id"].to_numpy()]
    return both.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    parser.add_argument("--first-days", type=float, default=28.0)
    parser.add_argument("--rewired", type=int, nargs="*", default=[], help="seeds of rewired real rows")
    args = parser.parse_args()
    data = load_copenhagen(COPENHAGEN)
    split = split_users(data.user_ids, **compose("train", [])["data"]["split"])  # the project's split
    held_row, holdout = row("real held-out users", data.subset(split.holdout).records, data.days, None)
    print("| records | users | " + " | ".join(f"q{int(q * 100)}" for q in QUANTILES)
          + " | no night event | sd | KS to held-out | KS, starter views | night only from others |")
    print("|---|---|" + "---|" * len(QUANTILES) + "---|---|---|---|---|")
    print(row("real training users", data.subset(split.train).records, data.days, holdout)[0])
    print(held_row)
    for seed in args.rewired:
        rec = rewired(data, seed)
        for name, users in (("training", split.train), ("held-out", split.holdout)):
            part = rec[rec["user_id"].isin(users)]
            print(row(f"real {name} users, receivers at random (seed {seed})", part, data.days, holdout)[0])
    for path in args.datasets:
        ds = read_dataset(path)
        name = f"{path.parent.name}/{path.name}"
        print(row(f"{name} ({ds.days:g} d)", ds.records, ds.days, holdout)[0])
        if ds.days > args.first_days:
            cut = ds.records[ds.records["timestamp"] < ds.start + pd.Timedelta(days=args.first_days)]
            print(row(f"{name}, first {args.first_days:g} d", cut, args.first_days, holdout)[0])


if __name__ == "__main__":
    main()
