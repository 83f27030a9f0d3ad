"""Measures of a who-contacts-whom graph given as a sparse adjacency (one definition each)."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def local_clustering(adjacency: sparse.csr_matrix, nodes: np.ndarray | None = None) -> np.ndarray:
    """Local clustering coefficient of ``nodes`` (default: all) of an undirected 0/1 adjacency.

    ``C_i = 2 T_i / (k_i (k_i - 1))`` with ``T_i`` the triangles through ``i`` and ``k_i`` its
    degree; 0 when ``k_i < 2`` (the convention of networkx's ``clustering``). ``[nodes]``.
    """
    rows = adjacency if nodes is None else adjacency[np.asarray(nodes)]
    k = np.asarray(rows.sum(axis=1), dtype=np.float64).ravel()
    triangles = np.asarray((rows @ adjacency).multiply(rows).sum(axis=1), dtype=np.float64).ravel() / 2.0
    pairs = k * (k - 1) / 2.0
    return np.divide(triangles, pairs, out=np.zeros_like(triangles), where=pairs > 0)
