"""Social-graph statistics of a records table, with numpy and scipy.sparse.

A records table sees the graph from its users' side (ego view): user ``u``'s ``out`` records give
ties ``u -> v`` and its ``in`` records ties ``v -> u``, whoever ``v`` is. Degree and reciprocity use
that view, so they are right for any subset of users. Clustering needs the ties *between* contacts,
which are only known when the contacts are users of the table too; it is therefore measured on the
graph induced by the table's users, which keeps it comparable between random user samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from zen.measures.graph import local_clustering


def _known_ties(records: pd.DataFrame) -> pd.DataFrame:
    return records.loc[records["counterpart_id"] >= 0, ["user_id", "counterpart_id", "direction"]]


def degrees(records: pd.DataFrame) -> np.ndarray:
    """Undirected degree (distinct counterparts, either direction) of each user with records. ``[users]``."""
    ties = _known_ties(records)
    users = np.unique(records["user_id"].to_numpy())
    deg = ties.drop_duplicates(["user_id", "counterpart_id"]).groupby("user_id").size()
    return deg.reindex(users, fill_value=0).to_numpy(dtype=float)


def reciprocity(records: pd.DataFrame) -> float:
    """Share of a user's outgoing ties ``u -> v`` for which ``v -> u`` also occurs (NaN without ties)."""
    ties = _known_ties(records).drop_duplicates()
    out = ties[ties["direction"] == "out"][["user_id", "counterpart_id"]]
    inc = ties[ties["direction"] == "in"][["user_id", "counterpart_id"]]
    if len(out) == 0:
        return float("nan")
    both = out.merge(inc, on=["user_id", "counterpart_id"], how="inner")
    return float(len(both) / len(out))


def induced_adjacency(records: pd.DataFrame) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Undirected 0/1 adjacency among the table's users (no self-loops).

    Returns:
        ``(user_ids [n], adjacency [n, n])``.
    """
    users = np.unique(records["user_id"].to_numpy())
    ties = _known_ties(records)
    ties = ties[ties["counterpart_id"].isin(users) & (ties["counterpart_id"] != ties["user_id"])]
    i = np.searchsorted(users, ties["user_id"].to_numpy())
    j = np.searchsorted(users, ties["counterpart_id"].to_numpy())
    n = len(users)
    adj = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float64)
    return users, adj.tocsr()


def clustering(records: pd.DataFrame) -> np.ndarray:
    """Local clustering of the users with at least two neighbours in the induced graph. ``[users]``.

    Users with fewer than two neighbours among a sample's users are left out: their number grows as
    the sample shrinks, whereas the clustering of the others does not depend on the sample size.
    """
    _, adj = induced_adjacency(records)
    k = np.asarray(adj.sum(axis=1)).ravel()
    return local_clustering(adj)[k >= 2]
