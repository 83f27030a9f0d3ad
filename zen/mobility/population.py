"""Stays for a whole population, shard by shard, with the seed scheme of ``zen-generate`` (``zen.seeds``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from zen.mobility.emulator import MobilityEmulator, choose_anchors
from zen.mobility.params import MobilityParams
from zen.mobility.places import check_places
from zen.mobility.stays import Stays
from zen.seeds import component_seed


def shard_seed(seed: int, shard: int) -> int:
    """The emulator's seed for shard ``shard`` of a run seeded ``seed`` (``zen.seeds``: the same
    stream ``zen-generate`` uses, so library and CLI give the same stays)."""
    return component_seed(seed, "mobility", shard)


def population_anchors(places: pd.DataFrame, n_users: int, params: MobilityParams,
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Home and work place of users 0..n_users-1 of a run seeded ``seed`` (as ``zen-generate``)."""
    return choose_anchors(places, n_users, params, np.random.default_rng(component_seed(seed, "anchors")))


def shard_stays(emulator: MobilityEmulator, places: pd.DataFrame, home: np.ndarray, work: np.ndarray,
                first: int, end: int, shard: int, days: float, start: pd.Timestamp | str, seed: int,
                device: str | torch.device = "cpu", activity: np.ndarray | None = None) -> Stays:
    """Stays of users ``first..end-1`` (shard ``shard``) of a run seeded ``seed``; ``activity``:
    ``[n_users]`` events per day of the whole population (for ``params.explore_activity``)."""
    return emulator.simulate(places, home[first:end], work[first:end], days, start, shard_seed(seed, shard),
                             device=device, activity=None if activity is None else activity[first:end])


def iter_stay_frames(places: pd.DataFrame, n_users: int, params: MobilityParams, days: float,
                     start: pd.Timestamp | str, seed: int, shard_users: int = 5000,
                     device: str | torch.device = "cpu",
                     anchors: tuple[np.ndarray, np.ndarray] | None = None) -> Iterator[pd.DataFrame]:
    """Yield the stays table (``user_id, start, end, place_id``) of users 0..n_users-1, one shard at a time.

    Memory stays flat in ``n_users``: only one shard's tensors and rows live at once. With the
    same arguments ``zen-generate mode=mobility`` writes the same tables.

    Args:
        places: the places table.
        n_users: population size; user ids are 0..n_users-1.
        params: mobility parameters.
        days, start: the simulated period (``start`` is UTC, or local clock given as UTC).
        seed: the run seed: anchors from :func:`population_anchors`, shard k from :func:`shard_seed`.
        shard_users: users per shard.
        device: torch device of the emulator.
        anchors: (home, work) ``[n_users]`` when already chosen (e.g. for the social graph).
    """
    places = check_places(places)
    home, work = anchors if anchors is not None else population_anchors(places, n_users, params, seed)
    emulator = MobilityEmulator(params)
    for shard, first in enumerate(range(0, n_users, shard_users)):
        end = min(first + shard_users, n_users)
        stays = shard_stays(emulator, places, home, work, first, end, shard, days, start, seed, device)
        yield stays.to_frame(np.arange(first, end), start)
