"""Measures of a who-contacts-whom graph, computed the same way on real and synthetic data.

A graph is an edges table ``src, dst, weight`` (directed; weight = events from src to dst).
Measures are taken for a set of users (the population whose statistics count) inside an
on-network ``population`` (nodes whose mutual ties are all observed). Clustering is measured on
the subgraph induced by the population: ties to nodes outside it are not all seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from zen.measures.distances import ks_statistic
from zen.measures.graph import local_clustering

OFFNET_BASE = 10**9  # ids >= this are off-network contacts (outside the observed population)
CONTACT_EVENTS = ("call", "sms")


def edges_from_records(records: pd.DataFrame) -> pd.DataFrame:
    """Directed edges ``src, dst, weight`` (weight = number of calls + SMS from src to dst).

    Records are two-sided: an event between two record owners appears once as ``out`` and once
    as ``in``; it is counted once. Events with a counterpart who owns no records are taken from
    the owner's side in both directions.
    """
    rec = records[records["event"].isin(CONTACT_EVENTS) & (records["counterpart_id"] >= 0)]
    user = rec["user_id"].to_numpy(np.int64)
    other = rec["counterpart_id"].to_numpy(np.int64)
    out = (rec["direction"] == "out").to_numpy()
    owners = np.unique(records["user_id"].to_numpy(np.int64))
    inbound_from_outsider = ~out & ~np.isin(other, owners)
    src = np.concatenate([user[out], other[inbound_from_outsider]])
    dst = np.concatenate([other[out], user[inbound_from_outsider]])
    pairs = pd.DataFrame({"src": src, "dst": dst})
    edges = pairs.value_counts(sort=False).rename("weight").reset_index()
    edges["weight"] = edges["weight"].astype(np.float64)
    return edges.sort_values(["src", "dst"], kind="stable").reset_index(drop=True)


@dataclass
class GraphMeasures:
    """Per-user and per-tie measures of a graph.

    Attributes:
        degree: ``[users]`` distinct contacts (either direction, on- or off-network).
        strength: ``[users]`` events with all contacts.
        top_share: ``[users]`` share of a user's events with their strongest tie.
        offnet_share: ``[users]`` share of a user's contacts outside the population.
        tie_strength: ``[ties]`` events per undirected tie touching a user.
        clustering: ``[users with >= 2 on-network contacts]`` local clustering coefficient.
        reciprocity: share of directed edges touching a user whose reverse edge exists.
    """

    degree: np.ndarray
    strength: np.ndarray
    top_share: np.ndarray
    offnet_share: np.ndarray
    tie_strength: np.ndarray
    clustering: np.ndarray
    reciprocity: float


def graph_measures(edges: pd.DataFrame, user_ids: np.ndarray | None = None,
                   population: np.ndarray | None = None, max_clustering_users: int = 20_000,
                   seed: int = 0) -> GraphMeasures:
    """Measures of the users ``user_ids`` (default: every node < ``OFFNET_BASE``).

    Args:
        edges: directed ``src, dst, weight`` (repeated pairs are summed, self-loops dropped).
        user_ids: users whose measures are returned.
        population: on-network nodes (default: every node id < ``OFFNET_BASE``).
        max_clustering_users: clustering is averaged over a seeded sample of this many users
            when there are more (exact triangle counts for 1M users need too much memory).
        seed: seed of that sample.
    """
    src = edges["src"].to_numpy(np.int64)
    dst = edges["dst"].to_numpy(np.int64)
    w = edges["weight"].to_numpy(np.float64) if "weight" in edges else np.ones(len(src))
    keep = src != dst
    src, dst, w = src[keep], dst[keep], w[keep]
    nodes = np.unique(np.concatenate([src, dst]))
    n = len(nodes)
    s, d = np.searchsorted(nodes, src), np.searchsorted(nodes, dst)
    if user_ids is None:
        user_ids = nodes[nodes < OFFNET_BASE]
    in_pop = nodes < OFFNET_BASE if population is None else np.isin(nodes, population)
    users = np.searchsorted(nodes, np.intersect1d(np.asarray(user_ids, np.int64), nodes))
    is_user = np.zeros(n, bool)
    is_user[users] = True

    directed = sp.csr_matrix((w, (s, d)), shape=(n, n))
    directed.sum_duplicates()
    coo = directed.tocoo()
    key = coo.row.astype(np.int64) * n + coo.col
    reverse = coo.col.astype(np.int64) * n + coo.row  # key is sorted: csr rows and columns are sorted
    pos = np.minimum(np.searchsorted(key, reverse), len(key) - 1)
    has_reverse = key[pos] == reverse
    touching = is_user[coo.row] | is_user[coo.col]
    reciprocity = float(has_reverse[touching].mean()) if touching.any() else float("nan")

    ties = (directed + directed.T).tocsr()
    sub = ties[users]
    degree = np.diff(sub.indptr)
    strength = np.asarray(sub.sum(axis=1)).ravel()
    top = np.asarray(sub.max(axis=1).todense()).ravel()
    offnet = np.asarray((sub > 0).astype(np.float64) @ (~in_pop).astype(np.float64)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        top_share, offnet_share = top / strength, offnet / degree
    upper = sp.triu(ties, k=1).tocoo()
    tie_strength = upper.data[is_user[upper.row] | is_user[upper.col]]
    clustering = _population_clustering(ties, in_pop, users[in_pop[users]], max_clustering_users, seed)
    has = degree > 0
    return GraphMeasures(degree[has].astype(np.int64), strength[has], top_share[has], offnet_share[has],
                         tie_strength, clustering, reciprocity)


def _population_clustering(ties: sp.csr_matrix, in_pop: np.ndarray, users: np.ndarray, max_users: int,
                      seed: int) -> np.ndarray:
    """Local clustering of ``users`` in the population-induced undirected graph (degree >= 2 only)."""
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    keep = sp.diags(in_pop.astype(np.float64))
    adjacency = (keep @ (ties > 0).astype(np.float64) @ keep).tocsr()
    adjacency.eliminate_zeros()  # the diagonal's zeros (nodes outside the population) are stored
    k = np.diff(adjacency[users].indptr)
    return local_clustering(adjacency, users)[k >= 2]


def graph_stats(edges: pd.DataFrame, user_ids: np.ndarray | None = None,
                population: np.ndarray | None = None) -> dict[str, float]:
    """Summary numbers of :func:`graph_measures` (see there for the arguments).

    Keys: ``users, mean_degree, median_degree, reciprocity, clustering`` (mean local clustering
    over on-network users with >= 2 on-network contacts), ``tie_strength_mean,
    tie_strength_median`` (events per tie), ``top_contact_share`` (mean share of a user's events
    with the strongest tie), ``offnet_share`` (mean share of contacts outside the population).
    """
    m = graph_measures(edges, user_ids, population)
    return summarize(m)


def summarize(m: GraphMeasures) -> dict[str, float]:
    """The summary dictionary of :func:`graph_stats` from measures already computed."""
    def mean(x: np.ndarray) -> float:
        return float(np.nanmean(x)) if len(x) else float("nan")

    return {"users": float(len(m.degree)), "mean_degree": mean(m.degree),
            "median_degree": float(np.median(m.degree)) if len(m.degree) else float("nan"),
            "reciprocity": m.reciprocity, "clustering": mean(m.clustering),
            "tie_strength_mean": mean(m.tie_strength),
            "tie_strength_median": float(np.median(m.tie_strength)) if len(m.tie_strength) else float("nan"),
            "top_contact_share": mean(m.top_share), "offnet_share": mean(m.offnet_share)}


def compare_graphs(real: GraphMeasures, synthetic: GraphMeasures) -> dict[str, float]:
    """Distances between two graphs' measures (0 = identical).

    KS statistics of the degree, tie-strength, top-contact-share and clustering distributions,
    and absolute differences of reciprocity and mean clustering.
    """
    return {"degree_ks": ks_statistic(real.degree, synthetic.degree),
            "tie_strength_ks": ks_statistic(real.tie_strength, synthetic.tie_strength),
            "top_share_ks": ks_statistic(real.top_share, synthetic.top_share),
            "clustering_ks": ks_statistic(real.clustering, synthetic.clustering),
            "reciprocity_diff": abs(real.reciprocity - synthetic.reciprocity),
            "clustering_diff": abs(float(np.mean(real.clustering)) - float(np.mean(synthetic.clustering)))}
