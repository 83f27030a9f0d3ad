"""The inhomogeneous-Poisson baseline traffic model.

Each synthetic user gets a profile — activity (events/day), share of calls among call+SMS,
share of data sessions, share of outgoing events, number of distinct contacts — drawn from a
Gaussian mixture fitted to the training users' profiles in a transformed space (so no
training user's profile is copied). Events then follow an inhomogeneous Poisson process
whose intensity is the user's rate times the fitted hour-of-week profile of the event type.
Durations are resampled from the training users' empirical durations; counterparts are
"the k-th most frequent contact" with k drawn from a Zipf law fitted to the contact ranks.

It is the reference every learned model must beat, and stays in the comparison tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.mixture import GaussianMixture

from zen.data.base import CDRData
from zen.io import write_json_atomic
from zen.io.model_files import read_json
from zen.measures.traffic import HOURS_PER_WEEK, SECONDS_PER_HOUR, hour_of_week
from zen.schema import EVENTS
from zen.traffic.timeline import CONTACT_NONE, Timelines, contact_ranks

PROFILE_COLUMNS = ("log_rate", "logit_call", "logit_data", "logit_out", "log_contacts")


def _logit(p: np.ndarray, eps: float = 0.02) -> np.ndarray:
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def poisson_profiles(records: pd.DataFrame, days: float) -> pd.DataFrame:
    """One row per user: the baseline's own transformed profile vector (see ``PROFILE_COLUMNS``).

    Not :func:`zen.measures.profiles.user_profiles` (the LSTM's conditioning features): the
    baseline's out share counts data sessions and its logits are clipped, not smoothed, and its
    saved mixture lives in this space.
    """
    g = records.groupby("user_id", observed=True)
    n = g.size()
    ev = records["event"].astype(str)
    calls = (ev == "call").groupby(records["user_id"]).sum()
    data = (ev == "data").groupby(records["user_id"]).sum()
    out = (records["direction"].astype(str) == "out").groupby(records["user_id"]).sum()
    has_cp = records["counterpart_id"] >= 0
    contacts = records[has_cp].groupby("user_id")["counterpart_id"].nunique().reindex(n.index,
                                                                                      fill_value=0)
    voice_text = (n - data).clip(lower=1)
    return pd.DataFrame({
        "log_rate": np.log(n / days),
        "logit_call": _logit((calls / voice_text).to_numpy()),
        "logit_data": _logit((data / n).to_numpy()),
        "logit_out": _logit((out / n).to_numpy()),
        "log_contacts": np.log1p(contacts.to_numpy()),
    }, index=n.index)


class PoissonBaseline:
    """Inhomogeneous-Poisson CDR generator fitted to real users (see module docstring).

    Args:
        smoothing: Dirichlet pseudo-count added to every hour-of-week bin.
        max_rank: contact ranks above this are folded into it.
        n_components: Gaussian-mixture components of the profile distribution.
    """

    kind = "baseline"

    def __init__(self, smoothing: float = 1.0, max_rank: int = 50, n_components: int = 4):
        self.smoothing = float(smoothing)
        self.max_rank = int(max_rank)
        self.n_components = int(n_components)
        self.params: dict = {}

    # ------------------------------------------------------------------ fitting
    def fit(self, train: CDRData, val: CDRData | None = None, *, trainer: dict | None = None,
            work_dir: Path | None = None, device: torch.device | str = "cpu", seed: int = 0,
            resume: bool = False) -> dict[str, float]:
        rec = train.records
        profiles = poisson_profiles(rec, train.days)
        gmm = GaussianMixture(n_components=min(self.n_components, len(profiles)),
                              covariance_type="full", reg_covar=1e-3, random_state=seed)
        gmm.fit(profiles.to_numpy())
        t_s = (rec["timestamp"] - train.start).dt.total_seconds().to_numpy()
        how = hour_of_week(t_s, train.start)
        ev = rec["event"].cat.codes.to_numpy()
        window_hours = np.bincount(hour_of_week(np.arange(0, train.days * 86400, 3600.0),
                                                train.start), minlength=HOURS_PER_WEEK)
        intensity = np.zeros((len(EVENTS), HOURS_PER_WEEK))
        for e in range(len(EVENTS)):
            counts = np.bincount(how[ev == e], minlength=HOURS_PER_WEEK) + self.smoothing
            rate = counts / np.maximum(window_hours, 1)  # events per observed hour of that bin
            intensity[e] = rate / rate.sum()
        answered_calls = rec[(rec["event"] == "call") & rec["answered"]]["duration_s"].to_numpy()
        calls = rec[rec["event"] == "call"]
        data = rec[rec["event"] == "data"]
        ranks = contact_ranks(rec["user_id"].to_numpy(), rec["counterpart_id"].to_numpy())
        ranks = ranks[ranks >= 0]
        self.params = {
            "gmm_weights": gmm.weights_.tolist(), "gmm_means": gmm.means_.tolist(),
            "gmm_covariances": gmm.covariances_.tolist(),
            "how_profile": intensity.tolist(),
            "call_durations": np.sort(answered_calls).astype(float).tolist(),
            "data_durations": np.sort(data["duration_s"].to_numpy()).astype(float).tolist(),
            "data_volumes": np.sort(data["volume_bytes"].to_numpy()).astype(float).tolist(),
            "missed_share": float((~calls["answered"]).mean()) if len(calls) else 0.0,
            "zipf_exponent": self._fit_zipf(ranks),
            "train_days": float(train.days),
            "events": sorted(rec["event"].astype(str).unique()),
        }
        metrics = {"train/nll": self.nll_per_event(train)}
        if val is not None and len(val.records):
            metrics["val/nll"] = self.nll_per_event(val)
        return metrics

    def _fit_zipf(self, ranks: np.ndarray) -> float:
        """MLE of s in P(k) ∝ (k+1)^-s on k = 0..max_rank-1 (grid search, robust)."""
        if len(ranks) == 0:
            return 1.0
        k = np.minimum(ranks, self.max_rank - 1)
        counts = np.bincount(k, minlength=self.max_rank)
        grid = np.linspace(0.1, 4.0, 391)
        logk = np.log(np.arange(1, self.max_rank + 1))
        ll = [-(s * logk * counts).sum() - counts.sum() * np.log(np.exp(-s * logk).sum())
              for s in grid]
        return float(grid[int(np.argmax(ll))])

    # ------------------------------------------------------------------ save / load
    def save(self, traffic_dir: Path) -> None:
        cfg = {"smoothing": self.smoothing, "max_rank": self.max_rank,
               "n_components": self.n_components}
        write_json_atomic({"config": cfg, "params": self.params}, Path(traffic_dir) / "baseline.json")

    @classmethod
    def load(cls, traffic_dir: Path, device: torch.device | str = "cpu") -> PoissonBaseline:
        blob = read_json(Path(traffic_dir) / "baseline.json", "the baseline's parameters")
        model = cls(**blob["config"])
        model.params = blob["params"]
        return model

    # ------------------------------------------------------------------ sampling
    def _gmm(self) -> GaussianMixture:
        gmm = GaussianMixture(n_components=len(self.params["gmm_weights"]), covariance_type="full")
        gmm.weights_ = np.asarray(self.params["gmm_weights"])
        gmm.means_ = np.asarray(self.params["gmm_means"])
        gmm.covariances_ = np.asarray(self.params["gmm_covariances"])
        gmm.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(gmm.covariances_))
        return gmm

    def sample_profiles(self, n_users: int, rng: np.random.Generator) -> np.ndarray:
        """New users' profile vectors ``[n_users, 5]`` drawn from the fitted mixture."""
        w = np.asarray(self.params["gmm_weights"])
        means = np.asarray(self.params["gmm_means"])
        chol = np.linalg.cholesky(np.asarray(self.params["gmm_covariances"]))
        comp = rng.choice(len(w), size=n_users, p=w / w.sum())
        z = rng.standard_normal((n_users, means.shape[1]))
        return means[comp] + np.einsum("nij,nj->ni", chol[comp], z)

    def sample_activity(self, n_users: int, rng: np.random.Generator) -> np.ndarray:
        """Expected events per day of new users. ``[n_users]``."""
        return np.exp(self.sample_profiles(n_users, rng)[:, 0])

    def sample(self, n_users: int, days: float, start: pd.Timestamp, seed: int,
               device: torch.device | str = "cpu", activity: np.ndarray | None = None) -> Timelines:
        """Sample ``n_users`` new users over ``days`` days from ``start`` (UTC). See Timelines."""
        rng = np.random.default_rng(seed)
        prof = self.sample_profiles(n_users, rng)
        if activity is not None:
            prof[:, 0] = np.log(np.asarray(activity, float))
        rate, p_call, p_data, p_out = (np.exp(prof[:, 0]), _sigmoid(prof[:, 1]),
                                       _sigmoid(prof[:, 2]), _sigmoid(prof[:, 3]))
        n_contacts = np.maximum(1, np.round(np.expm1(prof[:, 4]))).astype(np.int64)
        n_events = rng.poisson(rate * days)
        user = np.repeat(np.arange(n_users, dtype=np.int64), n_events)
        n = len(user)
        # event type from the user's mix
        u = rng.random(n)
        is_data = (u < p_data[user]) if len(self.params["data_durations"]) else np.zeros(n, bool)
        kinds = set(self.params.get("events", EVENTS))  # only the kinds the training data has
        voice_or_text = rng.random(n) < p_call[user] if {"call", "sms"} <= kinds else \
            np.full(n, "call" in kinds)
        is_call = ~is_data & voice_or_text
        event = np.where(is_data, 2, np.where(is_call, 0, 1)).astype(np.int8)
        # time: hour bin from the type's hour-of-week profile restricted to the window
        hours = int(np.ceil(days * 24))
        window_how = hour_of_week(np.arange(hours) * SECONDS_PER_HOUR, start)
        profile = np.asarray(self.params["how_profile"])[:, window_how]  # [3, hours]
        cdf = np.cumsum(profile / profile.sum(axis=1, keepdims=True), axis=1)
        hour = np.empty(n, dtype=np.int64)
        for e in range(len(EVENTS)):
            m = event == e
            hour[m] = np.minimum(np.searchsorted(cdf[e], rng.random(m.sum()), side="right"), hours - 1)
        t_s = np.minimum((hour + rng.random(n)) * SECONDS_PER_HOUR, days * 86400 - 1e-3)
        direction = np.where(is_data | (rng.random(n) < p_out[user]), 0, 1).astype(np.int8)
        # durations
        duration = np.zeros(n, np.float32)
        answered = np.ones(n, bool)
        volume = np.full(n, -1, np.int64)
        calls = np.flatnonzero(event == 0)
        answered[calls] = rng.random(len(calls)) >= self.params["missed_share"]
        ok = calls[answered[calls]]
        pool = np.asarray(self.params["call_durations"])
        if len(pool):
            duration[ok] = pool[rng.integers(0, len(pool), len(ok))]
        data_idx = np.flatnonzero(event == 2)
        dpool = np.asarray(self.params["data_durations"])
        if len(dpool) and len(data_idx):
            pick = rng.integers(0, len(dpool), len(data_idx))
            duration[data_idx] = dpool[pick]
            volume[data_idx] = np.asarray(self.params["data_volumes"])[pick].astype(np.int64)
        # contact rank: truncated Zipf over the user's contacts
        rank = self._sample_ranks(n_contacts[user], rng)
        rank[event == 2] = CONTACT_NONE
        tl = Timelines(user=user, t_s=t_s, event=event, direction=direction, duration_s=duration,
                       answered=answered, contact_rank=rank.astype(np.int16), volume_bytes=volume)
        return tl.sorted()

    def _sample_ranks(self, n_contacts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """k ~ P(k) ∝ (k+1)^-s on 0..n_contacts-1 (capped at max_rank), vectorised by inversion."""
        s = self.params["zipf_exponent"]
        kmax = np.minimum(n_contacts, self.max_rank)
        weights = np.arange(1, self.max_rank + 1, dtype=float) ** -s
        cum = np.concatenate([[0.0], np.cumsum(weights)])  # cum[k] = sum of first k weights
        target = rng.random(len(kmax)) * cum[kmax]
        return np.minimum(np.searchsorted(cum, target, side="right") - 1, kmax - 1)

    # ------------------------------------------------------------------ likelihood
    def nll_per_event(self, data: CDRData, device: torch.device | str = "cpu") -> float:
        """NLL per event (nats) of event times and type×direction marks (the protocol's measure).

        Each user's own rate and type/direction mix are estimated from their records (the
        profile, as the LSTM's profile vector is); the hour-of-week shape is the fitted one.
        log λ_u(t, e, d) = log(rate_u · P_u(e) · P_u(d) · shape_e(how(t)) · 168 / 604800 s).
        """
        rec = data.records
        prof = poisson_profiles(rec, data.days)
        uid = rec["user_id"].to_numpy()
        row = prof.index.get_indexer(uid)
        p = prof.to_numpy()
        rate = np.exp(p[row, 0]) / 86400.0  # events per second
        p_call, p_data, p_out = _sigmoid(p[row, 1]), _sigmoid(p[row, 2]), _sigmoid(p[row, 3])
        ev = rec["event"].cat.codes.to_numpy()
        if not len(self.params["data_durations"]):  # no data sessions in training: share 0
            p_data = np.zeros_like(p_data)
        p_type = np.where(ev == 2, p_data, (1 - p_data) * np.where(ev == 0, p_call, 1 - p_call))
        out = rec["direction"].astype(str).to_numpy() == "out"
        p_dir = np.where(ev == 2, 1.0, np.where(out, p_out, 1 - p_out))
        t_s = (rec["timestamp"] - data.start).dt.total_seconds().to_numpy()
        shape = np.asarray(self.params["how_profile"])[ev, hour_of_week(t_s, data.start)]
        log_lambda = np.log(rate * p_type * p_dir * shape * HOURS_PER_WEEK)
        # the compensator: each user's intensity integrates to rate_u · days (shapes sum to 1
        # per week, so over whole weeks this is exact; a fractional week is close)
        compensator = np.exp(prof["log_rate"].to_numpy()).sum() * data.days
        return float((compensator - log_lambda.sum()) / len(rec))


