"""The population law of user profiles, and chronotypes.

A profile (:func:`zen.measures.profiles.user_profiles`) is a short vector computed from a user's
records. The LSTM is conditioned on it, so heavy and light users come from the profile rather
than from the sequence alone. New users draw profiles from a Gaussian mixture fitted to the
training users' profiles: no real profile is ever copied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.measures.profiles import BURST_S, PROFILE_FEATURES, user_profiles  # noqa: F401  (old import path)

ACTIVITY = 0  # index of log events/day: the feature sample_activity draws


class ProfileDistribution:
    """A Gaussian mixture over raw profiles, with sampling conditioned on the activity.

    Args:
        weights: ``[K]``; means: ``[K, P]``; covariances: ``[K, P, P]``.
    """

    def __init__(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray):
        self.weights = np.asarray(weights, np.float64)
        self.means = np.asarray(means, np.float64)
        self.covariances = np.asarray(covariances, np.float64)

    @classmethod
    def fit(cls, profiles: np.ndarray, n_components: int, seed: int) -> ProfileDistribution:
        from sklearn.mixture import GaussianMixture  # here: scikit-learn (~0.5 s) is for fitting only

        k = int(min(n_components, max(1, len(profiles) // 10)))
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-3, n_init=2,
                              random_state=seed).fit(profiles)
        return cls(gmm.weights_, gmm.means_, gmm.covariances_)

    def state_dict(self) -> dict[str, list]:
        return {"weights": self.weights.tolist(), "means": self.means.tolist(),
                "covariances": self.covariances.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, list]) -> ProfileDistribution:
        return cls(state["weights"], state["means"], state["covariances"])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``[n, P]`` new profiles."""
        comp = rng.choice(len(self.weights), size=n, p=self.weights / self.weights.sum())
        z = rng.standard_normal((n, self.means.shape[1]))
        chol = np.linalg.cholesky(self.covariances)  # [K, P, P]
        out, block = self.means[comp], 1 << 16  # chol[comp] is [n, P, P]: blocks keep it to a few MiB
        for lo in range(0, n, block):
            out[lo:lo + block] += np.einsum("nij,nj->ni", chol[comp[lo:lo + block]], z[lo:lo + block])
        return out

    def sample_given_activity(self, log_activity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``[n, P]`` profiles whose activity feature equals ``log_activity`` (``[n]``), the
        other features drawn from the mixture's conditional law given it."""
        a = np.asarray(log_activity, np.float64)
        mu0, var0 = self.means[:, ACTIVITY], self.covariances[:, ACTIVITY, ACTIVITY]  # [K]
        loglik = -0.5 * ((a[:, None] - mu0) ** 2 / var0 + np.log(2 * np.pi * var0))
        logp = np.log(self.weights) + loglik  # [n, K]
        p = np.exp(logp - logp.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        comp = (p.cumsum(1) > rng.random(len(a))[:, None]).argmax(1)
        rest = [i for i in range(self.means.shape[1]) if i != ACTIVITY]
        cov_r0 = self.covariances[:, rest, ACTIVITY]  # [K, P-1]
        gain = cov_r0 / var0[:, None]
        cond_cov = self.covariances[np.ix_(range(len(mu0)), rest, rest)] \
            - gain[:, :, None] * cov_r0[:, None, :]
        chol = np.linalg.cholesky(cond_cov + 1e-9 * np.eye(len(rest)))
        mean = self.means[comp][:, rest] + gain[comp] * (a - mu0[comp])[:, None]
        z = rng.standard_normal((len(a), len(rest)))
        out = np.empty((len(a), self.means.shape[1]))
        out[:, ACTIVITY] = a
        out[:, rest] = mean + np.einsum("nij,nj->ni", chol[comp], z)
        return out


def hour_of_day_counts(records: pd.DataFrame, user_ids: np.ndarray) -> np.ndarray:
    """Events per hour of the day (UTC) of each user. ``[n_users, 24]`` float64."""
    uid = np.asarray(user_ids)
    row = np.searchsorted(uid, records["user_id"].to_numpy())
    hour = records["timestamp"].dt.hour.to_numpy().astype(np.int64)
    ok = (row < len(uid)) & (uid[np.minimum(row, len(uid) - 1)] == records["user_id"].to_numpy())
    flat = np.bincount(row[ok] * 24 + hour[ok], minlength=len(uid) * 24)
    return flat.reshape(len(uid), 24).astype(np.float64)


class Chronotypes:
    """Users' daily rhythms as ``K`` chronotypes (night owls, early birds, ...) and their law.

    Fitted by k-means on the training users' hour-of-day shares (each smoothed with
    ``prior_events`` pseudo-events spread like the population's, on the Hellinger scale
    ``sqrt(share)``); chronotypes are numbered by their night share (00-06 h), lowest first.
    New users draw theirs from a multinomial logistic regression on the (standardised)
    profile, so that the chronotype goes with activity and the rest of the profile as it does
    in the training users; a known user is assigned the nearest centroid of their own shares.

    Args:
        centroids: ``[K, 24]`` on the ``sqrt(share)`` scale; population: ``[24]`` hour shares.
        coef: ``[K, P]``, intercept: ``[K]`` of the law given the standardised profile.
        prior_events: pseudo-events of the smoothing.
    """

    def __init__(self, centroids, population, coef, intercept, prior_events: float = 10.0):
        self.centroids = np.asarray(centroids, np.float64)
        self.population = np.asarray(population, np.float64)
        self.coef = np.asarray(coef, np.float64)
        self.intercept = np.asarray(intercept, np.float64)
        self.prior_events = float(prior_events)

    @property
    def n(self) -> int:
        return len(self.centroids)

    @staticmethod
    def _shares(counts: np.ndarray, population: np.ndarray, prior_events: float) -> np.ndarray:
        return np.sqrt((counts + prior_events * population)
                       / (counts.sum(1, keepdims=True) + prior_events))

    @classmethod
    def fit(cls, counts: np.ndarray, profiles: np.ndarray, n_chronotypes: int, seed: int,
            prior_events: float = 10.0) -> tuple[Chronotypes, np.ndarray]:
        """Fit on ``counts`` ``[n, 24]`` (hour-of-day events) and standardised ``profiles``
        ``[n, P]`` of the training users; returns the model and each user's chronotype ``[n]``."""
        from sklearn.cluster import KMeans
        from sklearn.linear_model import LogisticRegression

        population = (counts.sum(0) + 1.0) / (counts.sum() + 24.0)
        x = cls._shares(counts, population, prior_events)
        k = int(min(n_chronotypes, max(1, len(x) // 20)))
        km = KMeans(k, n_init=10, random_state=seed).fit(x, sample_weight=counts.sum(1))
        night = (km.cluster_centers_[:, :6] ** 2).sum(1)
        order = np.argsort(night, kind="stable")
        centroids = km.cluster_centers_[order]
        labels = np.argsort(order)[km.labels_]
        coef, intercept = np.zeros((k, profiles.shape[1])), np.log(np.bincount(labels, minlength=k) + 1.0)
        if k > 1:
            law = LogisticRegression(C=1.0, max_iter=2000).fit(profiles, labels)
            if len(law.classes_) == k:
                coef, intercept = law.coef_, law.intercept_
                if k == 2:  # scikit-learn's binary form: one row for class 1
                    coef = np.concatenate([np.zeros_like(coef), coef])
                    intercept = np.concatenate([[0.0], intercept])
        return cls(centroids, population, coef, intercept, prior_events), labels

    def assign(self, counts: np.ndarray) -> np.ndarray:
        """Nearest chronotype of users with hour-of-day ``counts`` ``[n, 24]``. ``[n]`` int64."""
        x = self._shares(counts, self.population, self.prior_events)
        return ((x[:, None, :] - self.centroids[None]) ** 2).sum(-1).argmin(1).astype(np.int64)

    def sample(self, profiles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Chronotypes of new users with standardised ``profiles`` ``[n, P]``. ``[n]`` int64."""
        logits = profiles @ self.coef.T + self.intercept
        p = np.exp(logits - logits.max(1, keepdims=True))
        c = (p / p.sum(1, keepdims=True)).cumsum(1)
        c[:, -1] = 1.0
        return (c > rng.random(len(p))[:, None]).argmax(1).astype(np.int64)

    def state_dict(self) -> dict[str, list | float]:
        return {"centroids": self.centroids.tolist(), "population": self.population.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "prior_events": self.prior_events}

    @classmethod
    def from_state_dict(cls, state: dict) -> Chronotypes:
        return cls(state["centroids"], state["population"], state["coef"], state["intercept"],
                   state["prior_events"])
