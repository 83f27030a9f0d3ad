"""User activity level: the one user attribute the peers are conditioned on."""

from __future__ import annotations

import numpy as np
import pandas as pd


def activity_edges(records: pd.DataFrame, days: float, n_levels: int = 5) -> np.ndarray:
    """Bin edges (events per day) splitting the users of ``records`` into equal-size levels.

    Returns:
        ``[n_levels - 1]`` inner edges, increasing; level k holds rates in ``[edge[k-1], edge[k])``.
    """
    rate = records.groupby("user_id").size().to_numpy(dtype=float) / float(days)
    return np.quantile(rate, np.linspace(0, 1, n_levels + 1)[1:-1])


def activity_levels(records: pd.DataFrame, user_ids: np.ndarray, days: float,
                    edges: np.ndarray) -> np.ndarray:
    """Activity level (0 = least active) of each of ``user_ids``; users without records get 0.

    Returns:
        int64 ``[len(user_ids)]``.
    """
    counts = records.groupby("user_id").size()
    rate = counts.reindex(np.asarray(user_ids), fill_value=0).to_numpy(dtype=float) / float(days)
    return np.searchsorted(edges, rate, side="right").astype(np.int64)
