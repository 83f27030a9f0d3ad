"""Per-user night propensity: each user's own tilt of their chronotype's clock at night.

Chronotypes (``profiles.Chronotypes``) give users a handful of daily rhythms; inside one, every
user had the same clock, so the per-user night share of generated users was too narrow (and
too few users had no night event at all; experiments/conversations.md). Here each user ``u``
has a night logit ``nu_u``: the log-odds that one of their *episodes* (runs of events less
than :data:`EPISODE_GAP_S` apart; counting episodes, not events, keeps one long night thread
from reading as a night owl) starts at night (:data:`zen.measures.individual.NIGHT_HOURS`).
Per chronotype ``k``, ``nu ~ Normal(m_k, tau_k^2)`` with ``m_k, tau_k`` fitted by maximum
marginal likelihood of the training users' night episodes (binomial given ``nu``, integrated by
Gauss-Hermite quadrature), so the spread is that of the users' propensities, not of their
count noise.

A user's *tilt* ``theta_u = nu_u - logit(p_k)`` (``p_k``: the chronotype's pooled night share
of episodes) multiplies their chronotype clock's night hours by ``exp(theta_u)`` (each clock
renormalised to mean 1): the clock the LSTM rescales that user's time with, in training (the
posterior mean of ``theta`` given the user's own records) and in generation (``theta`` drawn
from the law). Tilts are rounded to a grid of :data:`STEP`, so the clocks are ``K x G`` rows of
one :class:`~zen.traffic.tokenizer.WeeklyClock` and a user's clock is the row
``k * G + g``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.measures.individual import NIGHT_HOURS
from zen.traffic.tokenizer import N_HOW, WeeklyClock

EPISODE_GAP_S = 3600.0  # a user's events closer than this (s) are one episode
STEP = 0.1  # tilt grid (log night-rate ratio)
LIMIT = 6.0  # tilts are clipped to [-LIMIT, LIMIT]
N_LEVELS = int(round(2 * LIMIT / STEP)) + 1
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)  # standard normal quadrature
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def night_episodes(records: pd.DataFrame, user_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Episodes and night episodes of each user of ``user_ids`` (sorted ids). ``([n], [n])`` float64.

    An episode starts at a user's first event and at every
    event more than :data:`EPISODE_GAP_S` after the user's previous one; it is a night episode
    when it starts in :data:`NIGHT_HOURS`.
    """
    uid = np.asarray(user_ids)
    t = (records["timestamp"] - records["timestamp"].min()).dt.total_seconds().to_numpy()
    order = np.lexsort((t, records["user_id"].to_numpy()))
    user, t = records["user_id"].to_numpy()[order], t[order]
    new_user = np.r_[True, user[1:] != user[:-1]]
    start = new_user | (np.r_[np.inf, np.diff(t)] > EPISODE_GAP_S)
    hour = records["timestamp"].dt.hour.to_numpy()[order]
    night = start & (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])
    row = np.searchsorted(uid, user)
    ok = (row < len(uid)) & (uid[np.minimum(row, len(uid) - 1)] == user)
    episodes = np.bincount(row[ok], weights=start[ok], minlength=len(uid))
    nights = np.bincount(row[ok], weights=night[ok], minlength=len(uid))
    return episodes.astype(np.float64), nights.astype(np.float64)


def _loglik(nu: np.ndarray, episodes: np.ndarray, nights: np.ndarray) -> np.ndarray:
    """Binomial log-likelihood (no constant) of ``nights`` of ``episodes`` at night logits ``nu``
    (broadcast)."""
    return -nights * np.logaddexp(0.0, -nu) - (episodes - nights) * np.logaddexp(0.0, nu)


def _fit_law(episodes: np.ndarray, nights: np.ndarray) -> tuple[float, float]:
    """``(m, tau)`` of ``nu ~ Normal(m, tau^2)``, maximum marginal likelihood."""
    from scipy.optimize import minimize  # here: fitting only

    pooled = (nights.sum() + 0.5) / (episodes.sum() + 1.0)

    def nll(x: np.ndarray) -> float:
        nu = x[0] + np.exp(x[1]) * _NODES  # [J]
        ll = _loglik(nu[None, :], episodes[:, None], nights[:, None])  # [n, J]
        top = ll.max(1, keepdims=True)
        return -float((np.log(np.exp(ll - top) @ _WEIGHTS) + top[:, 0]).sum())

    x0 = np.array([np.log(pooled / (1 - pooled)), 0.0])
    best = minimize(nll, x0, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
    return float(best.x[0]), float(np.clip(np.exp(best.x[1]), 1e-3, LIMIT))


class NightPropensity:
    """The law of users' night tilts per chronotype, and the clocks they give.

    Args:
        mean: ``[K]`` mean tilt ``m_k - logit(p_k)``; spread: ``[K]`` its standard deviation
            ``tau_k``; offset: ``[K]`` ``logit(p_k)`` (a night logit minus it is a tilt).
    """

    def __init__(self, mean, spread, offset):
        self.mean = np.asarray(mean, np.float64)
        self.spread = np.asarray(spread, np.float64)
        self.offset = np.asarray(offset, np.float64)

    @classmethod
    def fit(cls, episodes: np.ndarray, nights: np.ndarray, chronotype: np.ndarray,
            n_chronotypes: int) -> NightPropensity:
        """Fit on the training users' ``episodes``, ``nights`` and ``chronotype`` (each ``[n]``).
        A chronotype with fewer than 10 users with episodes borrows the law of all users."""
        has = episodes > 0
        everyone = _fit_law(episodes[has], nights[has])
        mean, spread, offset = [], [], []
        for k in range(n_chronotypes):
            sel = has & (chronotype == k)
            m, tau = _fit_law(episodes[sel], nights[sel]) if sel.sum() >= 10 else everyone
            p = (nights[sel].sum() + 0.5) / (episodes[sel].sum() + 1.0)
            offset.append(np.log(p / (1 - p)))
            mean.append(m - offset[-1])
            spread.append(tau)
        return cls(mean, spread, offset)

    def posterior(self, episodes: np.ndarray, nights: np.ndarray, chronotype: np.ndarray) -> np.ndarray:
        """Posterior mean tilt of users with these ``episodes``, ``nights``, ``chronotype`` ``[n]``
        (the law's mean for a user without episodes). ``[n]``."""
        k = np.asarray(chronotype, np.int64)
        theta = self.mean[k][:, None] + self.spread[k][:, None] * _NODES[None, :]  # [n, J]
        ll = _loglik(theta + self.offset[k][:, None], episodes[:, None], nights[:, None])
        w = np.exp(ll - ll.max(1, keepdims=True)) * _WEIGHTS
        return (w * theta).sum(1) / w.sum(1)

    def sample(self, chronotype: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Tilts of new users of ``chronotype`` ``[n]``. ``[n]``."""
        k = np.asarray(chronotype, np.int64)
        return self.mean[k] + self.spread[k] * rng.standard_normal(len(k))

    @staticmethod
    def clock_index(chronotype: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Row of :meth:`clocks` of each user: ``chronotype * G + level``. ``[n]`` int64."""
        level = np.rint((np.clip(theta, -LIMIT, LIMIT) + LIMIT) / STEP).astype(np.int64)
        return np.asarray(chronotype, np.int64) * N_LEVELS + level

    @staticmethod
    def clocks(base: WeeklyClock) -> WeeklyClock:
        """The ``K x G`` tilted clocks of the chronotype clocks ``base`` (``K`` rows), each row
        mean 1: row ``k * G + g`` is clock ``k`` with its night hours times ``exp(tilt_g)``."""
        rate = base.rate.cpu().numpy()  # [K, 168]
        hour = np.arange(N_HOW) % 24
        night = ((hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])).astype(np.float64)
        tilt = np.linspace(-LIMIT, LIMIT, N_LEVELS)
        rows = rate[:, None, :] * np.exp(tilt[None, :, None] * night[None, None, :])  # [K, G, 168]
        rows /= rows.mean(-1, keepdims=True)
        return WeeklyClock(rows.reshape(-1, N_HOW))

    def state_dict(self) -> dict[str, list]:
        return {"mean": self.mean.tolist(), "spread": self.spread.tolist(), "offset": self.offset.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict) -> NightPropensity:
        return cls(state["mean"], state["spread"], state["offset"])
