"""Distances between two samples or two histograms: the comparisons every score is made of.

SciPy is imported where a distance is computed, not with the module: generation imports this
module (through the social graph's fit) and never computes one (~0.5 s per process).
"""

from __future__ import annotations

import numpy as np


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic in [0, 1] (1.0 if a side is empty)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        return 1.0
    from scipy import stats

    return float(stats.ks_2samp(a, b).statistic)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) of two histograms (normalised here)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() <= 0 or q.sum() <= 0:
        return 1.0
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2)


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 (earth mover's) distance of two samples, in their unit (NaN if a side is empty)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    from scipy import stats

    return float(stats.wasserstein_distance(a, b))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance (in [0, 1]) of two histograms (normalised here)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() <= 0 or q.sum() <= 0:
        return 1.0
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())
