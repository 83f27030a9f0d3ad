"""Stays for a whole population, shard by shard: what ``zen-generate`` calls for a mobility-only output."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from zen.mobility.emulator import MobilityEmulator, choose_anchors
from zen.mobility.params import MobilityParams
from zen.mobility.places import check_places


def shard_seed(seed: int, shard: int) -> int:
    """A seed for shard ``shard`` of a run seeded ``seed`` (independent streams, same on every machine)."""
    return int(np.random.SeedSequence([seed, shard]).generate_state(1, dtype=np.uint64)[0] >> 1)


def iter_stay_frames(places: pd.DataFrame, n_users: int, params: MobilityParams, days: float,
                     start: pd.Timestamp | str, seed: int, shard_users: int = 5000,
                     device: str | torch.device = "cpu",
                     anchors: tuple[np.ndarray, np.ndarray] | None = None) -> Iterator[pd.DataFrame]:
    """Yield the stays table (``user_id, start, end, place_id``) of users 0..n_users-1, one shard at a time.

    Memory stays flat in ``n_users``: only one shard's tensors and rows live at once.

    Args:
        places: the places table.
        n_users: population size; user ids are 0..n_users-1.
        params: mobility parameters.
        days, start: the simulated period (``start`` is UTC, or local clock given as UTC).
        seed: anchors use ``np.random.default_rng(seed)``, shard k uses :func:`shard_seed` (seed, k).
        shard_users: users per shard.
        device: torch device of the emulator.
        anchors: (home, work) ``[n_users]`` when already chosen (e.g. for the social graph).
    """
    places = check_places(places)
    home, work = anchors if anchors is not None else choose_anchors(places, n_users, params,
                                                                     np.random.default_rng(seed))
    emulator = MobilityEmulator(params)
    for shard, first in enumerate(range(0, n_users, shard_users)):
        ids = np.arange(first, min(first + shard_users, n_users))
        stays = emulator.simulate(places, home[ids], work[ids], days, start, shard_seed(seed, shard), device)
        yield stays.to_frame(ids, start)
