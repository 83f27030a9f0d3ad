"""Cell-level mobility measures of CDRs: where users are *at their events*, as an operator sees it.

Every measure takes located events — records with a known cell and its ``lat``/``lon``
(:func:`zen.measures.individual.cell_coordinates`), sorted by user then time — so real and
synthetic data are measured alike: positions sampled at event times only. The per-user radius of
gyration, distinct cells and cell entropy are the individual features of
:mod:`zen.measures.individual`; these, defined in :mod:`zen.measures.mobility` (the CDR
calibration of the mobility model fits to the same definitions), are compared here:

* ``top_cell_share`` — share of a user's events at their most used cell (home, for most users);
* ``jump_lengths_m`` — distances between consecutive events of a user in different cells;
* ``dwell_times_s`` — time from the first to the last event of each run of consecutive events in
  one cell (runs of two or more events): how long users are seen staying;
* ``distinct_cells_per_week`` — distinct cells per user and observed week (the exploration rate);
* ``away_share_by_hour`` — per hour of day, the share of events away from the user's home cell
  (most used cell at night, 22:00–06:00 of the timestamps' clock): the circadian rhythm;
* ``cluster_density`` and ``od_flows`` — events per cell cluster (squares of ``cluster_deg``
  degrees) and moves between clusters: the spatial distribution and the origin–destination
  matrix, compared by total variation (for flows, ``1 - CPC``, the common part of commuters,
  Lenormand et al. 2012).

:func:`mobility_scores` turns them into ``cells/...`` distances; :func:`density_maps` draws the
events per cell cluster of the compared populations side by side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.evaluation.metrics import ks_statistic, total_variation, wasserstein
from zen.measures.individual import cell_coordinates
from zen.measures.mobility import (  # the cell-level measures (also used by the calibration)
    CLUSTER_DEG,
    away_share_by_hour,
    cluster_density,
    distinct_cells_per_week,
    dwell_times_s,
    jump_lengths_m,
    od_flows,
    top_cell_share,
)


def distribution_tv(a: pd.Series, b: pd.Series) -> float:
    """Total variation between two discrete distributions given as Series over any keys."""
    keys = a.index.union(b.index)
    return total_variation(a.reindex(keys, fill_value=0.0).to_numpy(),
                           b.reindex(keys, fill_value=0.0).to_numpy())


class CellView:
    """The located events of one sample and the measures above, computed once."""

    def __init__(self, records: pd.DataFrame, antennas: pd.DataFrame, start: pd.Timestamp):
        ev = cell_coordinates(records, antennas).sort_values(["user_id", "timestamp"], kind="stable")
        self.user = ev["user_id"].to_numpy()
        self.cell = ev["cell_id"].to_numpy()
        self.lat, self.lon = ev["lat"].to_numpy(float), ev["lon"].to_numpy(float)
        self.t_s = (ev["timestamp"] - start).dt.total_seconds().to_numpy()
        self.hour = ev["timestamp"].dt.hour.to_numpy()

    def measures(self) -> dict[str, np.ndarray | pd.Series]:
        return {
            "top_cell_share": top_cell_share(self.user, self.cell).to_numpy(float),
            "distinct_cells_per_week":
                distinct_cells_per_week(self.user, self.t_s, self.cell).to_numpy(float),
            "jump_length_m": jump_lengths_m(self.user, self.lat, self.lon),
            "dwell_time_s": dwell_times_s(self.user, self.t_s, self.cell),
            "away_share_by_hour": away_share_by_hour(self.user, self.hour, self.cell),
            "cluster_density": cluster_density(self.lat, self.lon),
            "od_flows": od_flows(self.user, self.lat, self.lon),
        }


def mobility_scores(candidate, real) -> tuple[dict[str, float], dict[str, str]]:
    """``cells/...`` distances between two :class:`~zen.evaluation.sample.CDRData` (both with cells).

    Keys: ``cells/{top_cell_share,distinct_cells_per_week,jump_length_m,dwell_time_s}/{ks,w1}``,
    ``cells/away_share_by_hour/mean_abs_diff`` (mean over hours of the absolute difference of
    the away-from-home shares), ``cells/cluster_density/tv`` and ``cells/od_flows/tv`` (1 - CPC).
    """
    if not (candidate.has_cells and real.has_cells):
        missing = real.label if not real.has_cells else candidate.label
        return {}, {"cells/mobility": f"needs cell_id + antennas lat/lon on both sides; {missing} has none"}
    ma = CellView(candidate.records, candidate.antennas, candidate.start).measures()
    mb = CellView(real.records, real.antennas, real.start).measures()
    scores: dict[str, float] = {}
    for name in ("top_cell_share", "distinct_cells_per_week", "jump_length_m", "dwell_time_s"):
        a, b = ma[name], mb[name]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) and len(b):
            scores[f"cells/{name}/ks"] = ks_statistic(a, b)
            scores[f"cells/{name}/w1"] = wasserstein(a, b)
    away_a, away_b = ma["away_share_by_hour"], mb["away_share_by_hour"]
    both = np.isfinite(away_a) & np.isfinite(away_b)
    scores["cells/away_share_by_hour/mean_abs_diff"] = (
        float(np.mean(np.abs(away_a[both] - away_b[both]))) if both.any() else np.nan)
    scores["cells/cluster_density/tv"] = distribution_tv(ma["cluster_density"], mb["cluster_density"])
    skipped = {}
    if len(ma["od_flows"]) and len(mb["od_flows"]):
        scores["cells/od_flows/tv"] = distribution_tv(ma["od_flows"], mb["od_flows"])
    else:
        skipped["cells/od_flows"] = "no moves between cell clusters on one side"
    return scores, skipped


def density_maps(samples: list, size_deg: float = CLUSTER_DEG):
    """One panel per sample: share of events per cell cluster on a log colour scale (same extent)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    views = [(s.label, CellView(s.records, s.antennas, s.start)) for s in samples if s.has_cells]
    fig, axes = plt.subplots(1, max(len(views), 1), figsize=(5 * max(len(views), 1), 4.6), squeeze=False)
    if not views:
        return fig
    lat_all = np.concatenate([v.lat for _, v in views])
    lon_all = np.concatenate([v.lon for _, v in views])
    lat_lo, lat_hi = np.quantile(lat_all, [0.01, 0.99])
    lon_lo, lon_hi = np.quantile(lon_all, [0.01, 0.99])
    pad = 2 * size_deg
    bins = [np.arange(lon_lo - pad, lon_hi + pad + size_deg, size_deg),
            np.arange(lat_lo - pad, lat_hi + pad + size_deg, size_deg)]
    for ax, (label, v) in zip(axes.flat, views, strict=False):
        h, xe, ye = np.histogram2d(v.lon, v.lat, bins=bins)
        h = h / max(h.sum(), 1)
        mesh = ax.pcolormesh(xe, ye, np.where(h > 0, h, np.nan).T, norm=LogNorm(1e-4, 1e-1),
                             cmap="viridis")
        ax.set_title(f"{label}: events per {size_deg:g}° cell cluster", fontsize=10)
        ax.set_xlabel("lon")
        ax.set_ylabel("lat")
        ax.set_aspect(1 / np.cos(np.radians(np.mean(bins[1]))))
    fig.colorbar(mesh, ax=axes.ravel().tolist(), label="share of events")
    return fig


def mobility_ccdfs(samples: list, labels: list[str] | None = None):
    """Two log-log panels: complementary CDFs of the per-user radius of gyration and of the jump
    lengths between consecutive events, one line per sample (a CDRData with cells)."""
    import matplotlib.pyplot as plt

    from zen.measures.mobility import radius_of_gyration

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, s in enumerate(samples):
        if not s.has_cells:
            continue
        v = CellView(s.records, s.antennas, s.start)
        label = labels[i] if labels else s.label
        for ax, values in ((axes[0], radius_of_gyration(v.user, v.lat, v.lon).to_numpy()),
                           (axes[1], jump_lengths_m(v.user, v.lat, v.lon))):
            x = np.sort(values[values >= 1.0]) / 1000.0  # below 1 m: one cell only (rg 0 up to rounding)
            if len(x):
                ax.step(x, 1.0 - np.arange(len(x)) / len(x), where="post", label=label)
    for ax, title in zip(axes, ("radius of gyration per user (km)", "jump between consecutive events (km)"),
                         strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(title)
        ax.set_ylabel("P(X > x)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
