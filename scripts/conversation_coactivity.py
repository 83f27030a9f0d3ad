"""Do the conversations a user receives fall on the days that user is active? Real vs datasets.

For every conversation a user receives (``zen.measures.conversations``: its first event is
``in``), is it on a day the user starts a conversation themselves? Printed beside the chance
level (the share of days the receiver starts one, averaged over received conversations) and
their ratio, the *lift*: 1 when partners' conversations ignore the receiver's days. For the
real Copenhagen users, also the share when conversations started back to the same partner are
left out (the pair-level part).

    python scripts/conversation_coactivity.py outputs/conversations/seed0/d28-partners ...
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

from zen.data import load_copenhagen  # noqa: E402
from zen.io.dataset import read_dataset  # noqa: E402
from zen.measures.conversations import conversations  # noqa: E402

COPENHAGEN = Path(os.environ.get("ZEN_DATA") or REPO.parent / "shared" / "data") / "copenhagen"


def coactivity(records: pd.DataFrame, start: pd.Timestamp) -> dict[str, float]:
    """``on_active_day``, ``chance``, ``lift`` and ``on_active_day_not_back`` (see the module)."""
    conv = conversations(records[records["event"].astype(str) != "data"])
    day = ((conv["start"] - start).dt.total_seconds() // 86400).to_numpy(np.int64)
    out = conv["started_out"].to_numpy()
    user, partner = conv["user_id"].to_numpy(), conv["counterpart_id"].to_numpy()
    started = pd.Series(1, index=pd.MultiIndex.from_arrays([user[out], day[out]])).groupby(level=[0, 1]).sum()
    back = pd.Series(1, index=pd.MultiIndex.from_arrays([user[out], partner[out], day[out]])) \
        .groupby(level=[0, 1, 2]).sum()
    got = ~out
    n_started = started.reindex(pd.MultiIndex.from_arrays([user[got], day[got]])).fillna(0).to_numpy()
    n_back = back.reindex(pd.MultiIndex.from_arrays([user[got], partner[got], day[got]])).fillna(0).to_numpy()
    days_active = started.groupby(level=0).size() / (day.max() + 1)
    chance = float(days_active.reindex(user[got]).fillna(0).mean())
    on = float((n_started > 0).mean())
    return {"on_active_day": on, "chance": chance, "lift": on / chance,
            "on_active_day_not_back": float((n_started - n_back > 0).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path, help="dataset folders zen-generate wrote")
    args = parser.parse_args()
    data = load_copenhagen(COPENHAGEN)
    rows = {"real Copenhagen (all users)": coactivity(data.records, data.start)}
    for path in args.datasets:
        ds = read_dataset(path)
        rows[str(path)] = coactivity(ds.records, ds.start)
    print("| records | received on a day the user starts one | chance | lift | same, not started back |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['on_active_day']:.3f} | {r['chance']:.3f} | {r['lift']:.2f} | "
              f"{r['on_active_day_not_back']:.3f} |")


if __name__ == "__main__":
    main()
