"""Night assortativity of the social graph: real Copenhagen against generated datasets.

For the real training users and for each dataset given: the correlation of the two ends' own
night shares (00-06 h, of each user's starter view: the conversations they start) over the
on-network ties between users with at least ``NIGHT_MIN_EVENTS`` such events
(``zen.network.social.partner_night_corr``: the statistic ``zen-train`` fits as
``night_assortativity``), the same over all records (shared conversations correlate partners
by construction), and for a dataset also the same correlation of the users' night
*tendencies* (the expected night share of the clock the traffic model gave each user,
``LSTMTrafficModel.night_tendency``, rebuilt from the manifest's seed) and the squared
correlation between a user's tendency and their realised night share (how much of the night
share the graph can see; a tendency correlation ρ across ties gives about ρ·R² in realised
shares).

    python scripts/night_assortativity.py outputs/conversations/seed0/d28-partners ...
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from zen.api import compose  # noqa: E402
from zen.data import load_copenhagen  # noqa: E402
from zen.data.split import split_users  # noqa: E402
from zen.generation.pipeline import load_models  # noqa: E402
from zen.io.dataset import read_dataset  # noqa: E402
from zen.measures.conversations import started_by_user  # noqa: E402
from zen.network.graph_stats import edges_from_records  # noqa: E402
from zen.network.social import (  # noqa: E402
    NIGHT_MIN_EVENTS,
    _night_assortativity,
    partner_night_corr,
    tie_night_corr,
    user_night_shares,
)
from zen.seeds import component_seed  # noqa: E402

COPENHAGEN = Path(os.environ.get("ZEN_DATA") or REPO.parent / "shared" / "data") / "copenhagen"


def all_records_corr(records, users) -> float:
    """Partners' night-share correlation over all their records (users with >= 10 records)."""
    return tie_night_corr(records, edges_from_records(records), users)[0]


def tendencies(manifest: dict) -> np.ndarray | None:
    """The night tendency of each user of a dataset, as its run drew them."""
    models = load_models(manifest["model_dir"])
    if not hasattr(models.traffic, "night_tendency"):
        return None
    n, seed = int(manifest["n_users"]), int(manifest["seed"])
    shard_users = int(manifest["config"].get("shard_users", 20000))
    activity = models.traffic.sample_activity(n, np.random.default_rng(component_seed(seed, "activity")))
    return np.concatenate([models.traffic.night_tendency(min(n, lo + shard_users) - lo,
                                                         component_seed(seed, "traffic", s),
                                                         activity[lo:lo + shard_users])
                           for s, lo in enumerate(range(0, n, shard_users))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    args = parser.parse_args()
    print(f"| records | ties (users with >= {NIGHT_MIN_EVENTS} own events) | partners' own night-share "
          "corr. | same, all records | partners' night-tendency corr. | R² tendency → own night share |")
    print("|---|---|---|---|---|---|")
    data = load_copenhagen(COPENHAGEN)
    split = split_users(data.user_ids, **compose("train", [])["data"]["split"])
    train = data.subset(split.train).records
    corr, ties = _night_assortativity(train, edges_from_records(train), np.unique(split.train))
    print(f"| real training users | {ties} | {corr:.3f} | "
          f"{all_records_corr(train, np.unique(split.train)):.3f} | – | – |")
    for path in args.datasets:
        ds = read_dataset(path)
        n = int(ds.manifest["n_users"])
        rec = ds.records
        corr, ties = _night_assortativity(rec, edges_from_records(rec), np.arange(n))
        every = all_records_corr(rec, np.arange(n))
        tend = tendencies(ds.manifest)
        cells = "– | –"
        if tend is not None:
            on = edges_from_records(rec)
            on = on[(on["src"] < n) & (on["dst"] < n)]
            t_corr, _ = partner_night_corr(on[["src", "dst"]].to_numpy(np.int64), tend)
            rec = rec.sort_values(["user_id", "timestamp"], kind="stable")
            share = user_night_shares(rec[started_by_user(rec)], np.arange(n))
            ok = np.isfinite(share)
            r2 = np.corrcoef(tend[ok], share[ok])[0, 1] ** 2
            cells = f"{t_corr:.3f} | {r2:.3f}"
        print(f"| {path.parent.name}/{path.name} | {ties} | {corr:.3f} | {every:.3f} | {cells} |",
              flush=True)


if __name__ == "__main__":
    main()
