"""Who receives the night conversations: real Copenhagen against generated datasets.

For every on-network conversation started at night (00-06 h, ``zen.measures.individual``) whose
both ends are in the records: the share whose receiver starts night conversations of their own
(in the same window, with anyone), and — the most any partner choice among the starter's ties
can reach — the share whose starter has at least one such tie (one they start conversations
with). Also the correlation over started conversations between the starter's and the receiver's
own night shares (users with >= 5 started conversations).

    python scripts/night_receivers.py outputs/conversations/seed0/d28-partners ...
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
from zen.measures.individual import NIGHT_HOURS  # noqa: E402

COPENHAGEN = Path(os.environ.get("ZEN_DATA") or REPO.parent / "shared" / "data") / "copenhagen"


def receivers(records: pd.DataFrame, users: np.ndarray) -> str:
    talk = records[(records["event"].astype(str) != "data") & records["user_id"].isin(users)
                   & (records["counterpart_id"] >= 0)]
    conv = conversations(talk)
    conv = conv[conv["started_out"].to_numpy()]
    hour = conv["start"].dt.hour
    night = ((hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])).to_numpy()
    u, v = conv["user_id"].to_numpy(), conv["counterpart_id"].to_numpy()
    owl = pd.Series(night, index=u).groupby(level=0).sum()
    n_started = pd.Series(1, index=u).groupby(level=0).sum()
    share = (owl / n_started)
    on = np.isin(v, users)
    v_owl = owl.reindex(v).fillna(0).to_numpy() > 0
    ties = pd.DataFrame({"u": u[on], "v": v[on]}).drop_duplicates()
    ties["v_owl"] = owl.reindex(ties["v"]).fillna(0).to_numpy() > 0
    any_owl_tie = ties.groupby("u")["v_owl"].any()
    at_night = on & night
    reach = any_owl_tie.reindex(u[at_night]).fillna(False).to_numpy()
    busy = n_started[n_started >= 5].index
    both = on & np.isin(u, busy) & np.isin(v, busy)
    corr = np.corrcoef(share.reindex(u[both]).to_numpy(), share.reindex(v[both]).to_numpy())[0, 1]
    return (f"{at_night.sum()} | {v_owl[at_night].mean():.3f} | {reach.mean():.3f} | "
            f"{(owl.reindex(users).fillna(0) > 0).mean():.3f} | {corr:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    args = parser.parse_args()
    print("| records | night conversations between users | receiver starts night ones too | "
          "starter has such a tie | users starting night ones | starter-receiver night-share corr. |")
    print("|---|---|---|---|---|---|")
    data = load_copenhagen(COPENHAGEN)
    print(f"| real Copenhagen (all users) | {receivers(data.records, np.unique(data.user_ids))} |")
    for path in args.datasets:
        ds = read_dataset(path)
        print(f"| {path.parent.name}/{path.name} | "
              f"{receivers(ds.records, np.arange(int(ds.manifest['n_users'])))} |", flush=True)


if __name__ == "__main__":
    main()
