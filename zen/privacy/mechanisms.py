"""Noisy releases of the side models: the weekly clock and the population profile law.

Each mechanism bounds what one user can change (their contribution is normalised or clipped
to public bounds), adds Laplace noise of scale ``sensitivity / epsilon`` (pure epsilon-DP under
adding or removing one user, Dwork & Roth 2014, Thm 3.6) and post-processes the result (clamp,
smooth, project), which costs no privacy.
"""

from __future__ import annotations

import numpy as np

from zen.traffic.tokenizer import HOUR_S, N_HOW

#: Public bounds of the raw profile features (from their definitions, not from the data;
#: events/day from 0.5 event per window, see ``profiles.py``). Values outside are clipped.
PROFILE_BOUNDS = {"log_events_per_day": (None, np.log(200.0)),
                  "logit_call_share": (-6.0, 6.0), "logit_out_share": (-6.0, 6.0),
                  "log_contacts": (0.0, np.log(200.0)), "logit_burst_share": (-6.0, 6.0),
                  "logit_data_share": (-6.0, 6.0)}


def laplace(values: np.ndarray, sensitivity: float, epsilon: float,
            rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``values`` + Laplace noise of scale ``sensitivity / epsilon`` (L1 sensitivity).

    Returns the noisy values and the scale.
    """
    if epsilon <= 0:
        raise ValueError("epsilon must be positive")
    scale = float(sensitivity) / float(epsilon)
    values = np.asarray(values, np.float64)
    return values + rng.laplace(0.0, scale, size=values.shape), scale


def user_histograms(user: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    """Sum over users of each user's normalised histogram (each user adds a vector of L1 norm 1,
    so adding or removing a user moves the sum by at most 1 in L1). ``[n_bins]``."""
    user = np.asarray(user)
    _, inv, per_user = np.unique(user, return_inverse=True, return_counts=True)
    return np.bincount(bins, weights=1.0 / per_user[inv], minlength=n_bins).astype(np.float64)


def _circular_smooth(x: np.ndarray) -> np.ndarray:
    return 0.25 * np.roll(x, 1) + 0.5 * x + 0.25 * np.roll(x, -1)


def private_clock_rate(user: np.ndarray, week_seconds: np.ndarray, offset_s: float, days: float,
                       epsilon: float, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A private hour-of-week intensity (``[168]``, mean 1) as hour-of-day x day-of-week.

    Two user-normalised histograms (24 hours of the day, 7 days of the week), each with half of
    ``epsilon`` and Laplace noise of scale ``2 / epsilon`` (sensitivity 1); noisy counts are
    clamped at 0.5 % of the mean, divided by the hours the window covered each bin (public),
    smoothed over neighbouring hours, and multiplied. The product form keeps 31 noisy numbers
    instead of 168: with a few hundred users, 168 bins would drown in the noise.

    Args:
        user: ``[n]`` user id of each event; week_seconds: ``[n]`` seconds since Monday 00:00.
        offset_s, days: the window (public).
    """
    u = np.asarray(week_seconds, np.float64)
    hod = (np.floor(u / HOUR_S).astype(np.int64)) % 24
    dow = (np.floor(u / 86400.0).astype(np.int64)) % 7
    hours = (np.arange(int(np.ceil(days * 24))) + int(offset_s // HOUR_S)) % N_HOW
    exp_h = np.maximum(np.bincount(hours % 24, minlength=24), 1).astype(np.float64)
    exp_d = np.maximum(np.bincount(hours // 24, minlength=7), 1).astype(np.float64)
    h_noisy, scale = laplace(user_histograms(user, hod, 24), 1.0, epsilon / 2, rng)
    d_noisy, _ = laplace(user_histograms(user, dow, 7), 1.0, epsilon / 2, rng)
    h_rate = np.maximum(h_noisy, 0.005 * max(h_noisy.mean(), 1e-9)) / exp_h
    d_rate = np.maximum(d_noisy, 0.005 * max(d_noisy.mean(), 1e-9)) / exp_d
    h_rate = _circular_smooth(h_rate)
    rate = (d_rate[:, None] * h_rate[None, :]).reshape(-1)
    rate = np.maximum(rate / rate.mean(), 1e-3)
    return rate / rate.mean(), {"laplace_scale": scale, "sensitivity_l1": 1.0, "bins": [24, 7],
                                "epsilon_per_histogram": epsilon / 2}


def private_gaussian_profile(raw: np.ndarray, features: tuple[str, ...], days: float, epsilon: float,
                             rng: np.random.Generator,
                             covariance: str = "full") -> tuple[np.ndarray, np.ndarray, dict]:
    """Private mean and covariance of the raw profiles (one Gaussian: the population law).

    Each feature is clipped to its public bounds (:data:`PROFILE_BOUNDS`) and mapped to
    ``[-1, 1]``; the count, the sum of ``z`` (P numbers) and of ``z z^T`` (upper triangle,
    P(P+1)/2 numbers), each at most 1 in absolute value per user, are released with Laplace
    noise of scale ``(1 + P + P(P+1)/2) / epsilon``. The covariance is projected onto the
    positive definite matrices (eigenvalues at least 1e-3 in ``z`` units). ``covariance=
    "diagonal"`` releases only the P squares (sensitivity ``1 + 2P``: less noise, no correlations).

    Returns:
        mean ``[P]``, covariance ``[P, P]`` (raw units), details (scale, bounds); nothing
        computed from the data without noise.
    """
    bounds = dict(PROFILE_BOUNDS, log_events_per_day=(np.log(0.5 / days), np.log(200.0)))
    lo = np.array([bounds[f][0] for f in features])
    hi = np.array([bounds[f][1] for f in features])
    half = (hi - lo) / 2
    clipped = np.clip(raw, lo, hi)
    z = (clipped - lo) / half - 1.0  # [n, P] in [-1, 1]
    p = z.shape[1]
    iu = np.triu_indices(p) if covariance == "full" else (np.arange(p), np.arange(p))
    stats = np.concatenate([[len(z)], z.sum(0), (z[:, :, None] * z[:, None, :]).sum(0)[iu]])
    sensitivity = 1.0 + p + len(iu[0])
    noisy, scale = laplace(stats, sensitivity, epsilon, rng)
    n = max(noisy[0], 2.0)
    mean_z = np.clip(noisy[1:1 + p] / n, -1, 1)
    second = np.zeros((p, p))
    second[iu] = noisy[1 + p:] / n
    second = second + np.triu(second, 1).T
    if covariance != "full":  # no correlations released: the off-diagonal is the mean's product
        second = second * np.eye(p) + np.outer(mean_z, mean_z) * (1 - np.eye(p))
    cov_z = second - np.outer(mean_z, mean_z)
    w, v = np.linalg.eigh((cov_z + cov_z.T) / 2)
    cov_z = (v * np.maximum(w, 1e-3)) @ v.T
    mean = lo + (mean_z + 1.0) * half
    cov = cov_z * np.outer(half, half)
    return mean, cov, {"laplace_scale": scale, "sensitivity_l1": sensitivity,
                       "covariance": covariance,
                       "bounds": {f: [float(a), float(b)] for f, a, b in zip(features, lo, hi, strict=True)}}
