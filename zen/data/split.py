"""A deterministic, seeded split of users into train / validation / holdout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

PARTS = ("train", "val", "holdout")


@dataclass(frozen=True)
class UserSplit:
    train: np.ndarray
    val: np.ndarray
    holdout: np.ndarray

    def as_dict(self) -> dict[str, list[int]]:
        return {k: getattr(self, k).tolist() for k in PARTS}

    def digest(self) -> str:
        """sha256 of the three sorted id lists: checks a recomputed split without naming a user."""
        h = hashlib.sha256()
        for k in PARTS:
            h.update(k.encode())
            h.update(np.asarray(getattr(self, k), dtype="<i8").tobytes())
        return h.hexdigest()

    def record(self, seed: int) -> dict:
        """What a model folder keeps of the split: sizes, seed and digest, never the user ids (a
        model folder is shared, and a list of ids would tell who was in the training data)."""
        return {"sizes": {k: len(getattr(self, k)) for k in PARTS}, "seed": int(seed),
                "sha256": self.digest(),
                "ids": "omitted: zen.data.split_users(user ids, **data.split) recomputes them"}


def split_users(user_ids: np.ndarray, val_fraction: float = 0.15, holdout_fraction: float = 0.25,
                seed: int = 0) -> UserSplit:
    """Split user ids into disjoint train / validation / holdout sets.

    The result depends only on the set of ids and the seed (not their order), so every stage
    that calls it with the same config sees the same split.
    """
    ids = np.unique(np.asarray(user_ids, dtype=np.int64))
    if not 0 <= val_fraction < 1 or not 0 <= holdout_fraction < 1 \
            or val_fraction + holdout_fraction >= 1:
        raise ValueError("val_fraction + holdout_fraction must be in [0, 1)")
    perm = np.random.default_rng(seed).permutation(len(ids))
    n_hold = int(round(holdout_fraction * len(ids)))
    n_val = int(round(val_fraction * len(ids)))
    hold, val, train = np.split(ids[perm], [n_hold, n_hold + n_val])
    return UserSplit(np.sort(train), np.sort(val), np.sort(hold))
