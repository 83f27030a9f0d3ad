"""The fitted dependency between how users move and how they use the network.

Per 30-minute slot a user is in a joint state ``(mobility, traffic)`` — mobility one of
``home / work / elsewhere / moving``, traffic one of ``idle / low / high`` (:mod:`zen.measures.slots`),
12 states in all, index ``m * 3 + t``. A Markov chain over the joint states, one per 4-hour
period of the day and per user *signature* (the k-means cluster of the user's slot features,
Kouam et al.'s per-user heterogeneity), is fitted on real users that have both views
(:class:`zen.coupling.chain.JointChain`). In real CDRs the mobility side is seen only at events,
so an idle slot's mobility state is hidden and EM fills it in.

The model then (a) infers one side from the other (:meth:`CouplingModel.infer_mobility`,
:meth:`CouplingModel.infer_traffic`: forward–backward over the joint chain with only that side
observed), and (b) gives, for a generated mobility state sequence, how much more or less intense
each active slot should be than with mobility unseen (:meth:`CouplingModel.traffic_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zen.coupling.chain import JointChain
from zen.measures.slots import MOBILITY_STATES, TRAFFIC_STATES, SlotGrid, slot_features, slot_grid

N_M, N_T = len(MOBILITY_STATES), len(TRAFFIC_STATES)
N_STATES = N_M * N_T
FORMAT = "zen-coupling/1"
LOG_FEATURES = ("events_per_slot", "events_per_active_slot", "inter_event_median_s",
                "radius_of_gyration_m", "distinct_cells", "cell_changes_per_slot")
STICKY = 9.0  # EM starts from "the mobility state persists" (x10 odds; see JointChain.fit)
STATE_M = np.repeat(np.arange(N_M), N_T)  # [12] mobility side of each joint state
STATE_T = np.tile(np.arange(N_T), N_M)  # [12] traffic side


def slot_periods(slot_hour: np.ndarray, period_hours: int) -> np.ndarray:
    """Period index of each slot: its hour of day in blocks of ``period_hours``. ``[T]``."""
    return (np.asarray(slot_hour) // period_hours).astype(np.int64)


def joint_masks(mobility: np.ndarray | None, traffic: np.ndarray | None,
                active: np.ndarray | None = None) -> np.ndarray:
    """Allowed joint states ``[U, T, 12]`` given what is observed of each side.

    Args:
        mobility: ``[U, T]`` mobility state, -1 (or None: the whole side) unobserved.
        traffic: ``[U, T]`` traffic state, -1 (or None) unobserved.
        active: ``[U, T]`` bool, where only "idle or not" is known of the traffic side.
    """
    shape = (mobility if mobility is not None else traffic).shape
    ok = np.ones((*shape, N_STATES), bool)
    if mobility is not None:
        ok &= (mobility[..., None] < 0) | (STATE_M == mobility[..., None])
    if traffic is not None:
        ok &= (traffic[..., None] < 0) | (STATE_T == traffic[..., None])
    if active is not None:
        ok &= (STATE_T > 0) == active[..., None]
    return ok.astype(np.float64)


@dataclass
class CouplingModel:
    """Joint chain + signatures + the numbers generation needs.

    Attributes:
        chain: the fitted :class:`JointChain` (K signatures, 24 / ``period_hours`` periods).
        high_from: a slot with at least this many events is ``high`` traffic.
        period_hours: length of a period of the day (hours).
        features: feature names of the signature space.
        centre, scale: ``[F]`` standardisation of the (log-transformed) features.
        centroids: ``[K, F]`` k-means centres in the standardised space.
        rates: ``[3]`` mean events in an idle / low / high slot of the training users.
        history: mean log-likelihood per slot after each EM iteration.
    """

    chain: JointChain
    high_from: int
    period_hours: int
    features: list[str]
    centre: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray
    rates: np.ndarray
    history: list[float]

    @property
    def n_signatures(self) -> int:
        return len(self.centroids)

    # -- signatures --------------------------------------------------------------------------
    def _standard(self, feats: pd.DataFrame) -> np.ndarray:
        x = np.column_stack([np.log1p(feats[f].to_numpy(float)) if f in LOG_FEATURES
                             else feats[f].to_numpy(float) for f in self.features])
        z = (x - self.centre) / self.scale
        return np.where(np.isfinite(z), z, 0.0)

    def signatures(self, feats: pd.DataFrame, columns: tuple[str, ...] | None = None) -> np.ndarray:
        """Nearest centroid of each user ``[U]``, measured on ``columns`` only (default: all), so a
        held-out user with one side hidden is placed by the side that is seen."""
        z = self._standard(feats)
        use = np.array([columns is None or f in columns for f in self.features])
        d = ((z[:, None, use] - self.centroids[None][:, :, use]) ** 2).sum(axis=2)
        return d.argmin(axis=1).astype(np.int64)

    def signatures_from_activity(self, events_per_day: np.ndarray) -> np.ndarray:
        """Signature of generated users from their expected events per day alone ``[U]``."""
        feats = pd.DataFrame({f: np.nan for f in self.features}, index=range(len(events_per_day)))
        feats["events_per_slot"] = np.asarray(events_per_day, float) / 48.0
        return self.signatures(feats, ("events_per_slot",))

    # -- fit -----------------------------------------------------------------------------------
    @classmethod
    def fit(cls, records: pd.DataFrame, start: pd.Timestamp, days: float, antennas: pd.DataFrame,
            n_signatures: int = 3, period_hours: int = 4, iters: int = 40, prior: float = 10.0,
            seed: int = 0) -> CouplingModel:
        """Fit on real users' records (both views: cells with coordinates).

        Args:
            records, start, days, antennas: the training users' data.
            n_signatures: K of the k-means over the users' slot features (1: no signatures).
            period_hours: the chain is time-inhomogeneous by blocks of this many hours.
            iters, prior: EM iterations and the smoothing of :meth:`JointChain.fit`.
            seed: k-means seed.
        """
        from sklearn.cluster import KMeans

        grid = slot_grid(records, start, days, antennas)
        feats = slot_features(records, start, days, antennas, grid=grid)
        active = grid.events[grid.events > 0]
        high_from = int(np.median(active)) + 1
        names = [f for f in feats.columns if np.nanstd(feats[f].to_numpy(float)) > 0]
        x = np.column_stack([np.log1p(feats[f].to_numpy(float)) if f in LOG_FEATURES
                             else feats[f].to_numpy(float) for f in names])
        centre, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        z = np.nan_to_num((x - centre) / scale)
        k = max(1, min(int(n_signatures), len(z)))
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(z)
        traffic = grid.traffic(high_from)
        rates = np.array([0.0, grid.events[traffic == 1].mean(), grid.events[traffic == 2].mean()])
        period = slot_periods(grid.slot_hour, period_hours)
        sticky = 1.0 + STICKY * (STATE_M[:, None] == STATE_M[None, :])  # where one is, one stays
        chain, history = JointChain.fit(joint_masks(grid.mobility, traffic), km.labels_.astype(np.int64),
                                        period, k, 24 // period_hours, iters, prior, start=sticky)
        return cls(chain, high_from, int(period_hours), names, centre, scale, km.cluster_centers_,
                   rates, history)

    # -- inference -----------------------------------------------------------------------------
    def _period(self, grid: SlotGrid) -> np.ndarray:
        return slot_periods(grid.slot_hour, self.period_hours)

    def infer_mobility(self, grid: SlotGrid, sig: np.ndarray) -> np.ndarray:
        """``[U, T, 4]`` posterior of the mobility state of every slot given the traffic side only."""
        masks = joint_masks(None, grid.traffic(self.high_from))
        gamma = self.chain.posterior(masks, sig, self._period(grid))
        return gamma.reshape(*gamma.shape[:2], N_M, N_T).sum(axis=3)

    def infer_traffic(self, grid: SlotGrid, sig: np.ndarray) -> np.ndarray:
        """``[U, T, 3]`` posterior of the traffic state given the mobility side (which, in CDRs, also
        tells which slots had an event: only low vs high is left to infer there)."""
        masks = joint_masks(grid.mobility, None, active=grid.events > 0)
        gamma = self.chain.posterior(masks, sig, self._period(grid))
        return gamma.reshape(*gamma.shape[:2], N_M, N_T).sum(axis=2)

    def traffic_weights(self, mobility: np.ndarray, sig: np.ndarray, slot_hour: np.ndarray,
                        chunk: int = 500) -> np.ndarray:
        """``[U, T]`` expected events of an *active* slot given the whole mobility sequence, over the
        same with mobility unseen (same signature and clock): > 1 where the chain says users in this
        mobility state use the network more intensely than on average.

        Only the intensity of active slots is used: in CDRs a slot's mobility is seen only when it
        has an event, so how often users are idle in each mobility state is not identified by the
        data (EM may give idle slots any mobility state); low vs high in active slots is observed.
        """
        period = slot_periods(slot_hour, self.period_hours)

        def intensity(g: np.ndarray) -> np.ndarray:
            pt = g.reshape(*g.shape[:2], N_M, N_T).sum(axis=2)[..., 1:]
            return (pt @ self.rates[1:]) / np.maximum(pt.sum(axis=2), 1e-12)
        k = np.arange(self.n_signatures)  # mobility unseen: one sequence per signature
        free = intensity(self.chain.posterior(np.ones((len(k), len(period), N_STATES)), k, period))
        out = np.empty(mobility.shape)
        for i in range(0, len(mobility), chunk):  # [chunk, T, 12] at a time: memory flat in users
            part = slice(i, i + chunk)
            given = self.chain.posterior(joint_masks(mobility[part], None), sig[part], period)
            out[part] = intensity(given) / free[sig[part]]
        return out

    # -- files ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "mobility_states": list(MOBILITY_STATES),
                "traffic_states": list(TRAFFIC_STATES), "high_from": self.high_from,
                "period_hours": self.period_hours, "features": list(self.features),
                "centre": self.centre.tolist(), "scale": self.scale.tolist(),
                "centroids": self.centroids.tolist(), "rates": self.rates.tolist(),
                "init": self.chain.init.tolist(), "trans": self.chain.trans.tolist(),
                "history": list(self.history)}

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON (atomically); no pickle anywhere."""
        from zen.io import write_json_atomic

        write_json_atomic(self.to_dict(), Path(path))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> CouplingModel:
        """A model written by :meth:`save` (JSON only; refuses anything else with one line)."""
        from zen.io.model_files import read_json
        from zen.schema import ZenInputError

        d = read_json(path, "coupling.json")
        if d.get("format") != FORMAT:
            raise ZenInputError(f"not a coupling model ({FORMAT}); retrain with zen-train", str(path))
        try:
            chain = JointChain(np.asarray(d["init"], float), np.asarray(d["trans"], float))
            return cls(chain, int(d["high_from"]), int(d["period_hours"]), list(d["features"]),
                       np.asarray(d["centre"], float), np.asarray(d["scale"], float),
                       np.asarray(d["centroids"], float), np.asarray(d["rates"], float),
                       list(d.get("history", [])))
        except (KeyError, TypeError, ValueError) as err:
            raise ZenInputError(f"coupling.json is incomplete ({err}); retrain with zen-train",
                                str(path)) from err
