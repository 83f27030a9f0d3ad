"""The ``coupling`` section: does the joint per-user distribution of traffic and mobility match?

Per user, the slot features of :mod:`zen.measures.slots`; between every traffic feature and
every mobility feature, the Spearman correlation across users and the mutual information (nats,
features cut into quartiles within each sample). Two samples are compared by the mean absolute
difference of those matrices over the traffic x mobility block (features constant or undefined
in either sample left out):

* ``coupling/corr_mad`` — mean |rho_a - rho_b|;
* ``coupling/mi_mad`` — mean |MI_a - MI_b| (nats).

A larger sample is compared through random subsets as large as the reference (mean of
:data:`DRAWS`), so that sample size does not decide the distance.

Mobility features are measured at events for real and synthetic data alike, so even independent
generators show the correlations that sampling positions at events creates; the coupling is
in what is left.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.measures.slots import MOBILITY_FEATURES, TRAFFIC_FEATURES, slot_features

QUANTILE_BINS = 4
DRAWS = 20  # subsets of the larger sample, each the size of the reference (see distance_draws)


def sample_features(sample) -> pd.DataFrame:
    """Slot features of a sample with ``records, start, days, antennas`` (CDRSample, CDRData, dataset)."""
    return slot_features(sample.records, sample.start, sample.days, sample.antennas)


def _bins(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank(method="first", pct=True).mul(QUANTILE_BINS).clip(upper=QUANTILE_BINS - 1e-9) \
        .astype(int).to_numpy()


def block(feats: pd.DataFrame, traffic: list[str], mobility: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Spearman correlations and mutual information ``[len(traffic), len(mobility)]`` across users."""
    from sklearn.metrics import mutual_info_score

    rho = feats[traffic + mobility].corr(method="spearman").loc[traffic, mobility].to_numpy()
    mi = np.full(rho.shape, np.nan)
    for i, t in enumerate(traffic):
        for j, m in enumerate(mobility):
            both = feats[[t, m]].dropna()
            if len(both) >= QUANTILE_BINS * 2:
                mi[i, j] = mutual_info_score(_bins(both[t].to_numpy()), _bins(both[m].to_numpy()))
    return rho, mi


def usable(*frames: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Traffic and mobility features that vary (and are defined) in every frame."""
    def ok(f: str) -> bool:
        return all(fr[f].notna().sum() >= 3 and fr[f].nunique(dropna=True) > 1 for fr in frames)
    return [f for f in TRAFFIC_FEATURES if ok(f)], [f for f in MOBILITY_FEATURES if ok(f)]


def _distance(fa: pd.DataFrame, fb: pd.DataFrame, traffic: list[str],
              mobility: list[str]) -> dict[str, float]:
    (ra, ma), (rb, mb) = block(fa, traffic, mobility), block(fb, traffic, mobility)
    return {"corr_mad": float(np.nanmean(np.abs(ra - rb))), "mi_mad": float(np.nanmean(np.abs(ma - mb)))}


def distance_draws(fa: pd.DataFrame, fb: pd.DataFrame, draws: int = DRAWS, seed: int = 0) -> list[dict]:
    """The distances of ``draws`` random subsets of ``fa``'s users, each as many as ``fb`` has, to
    ``fb``: the sample size then does not decide the distance (estimated mutual information
    grows as samples shrink). One draw of all of ``fa`` when it is not larger than ``fb``."""
    traffic, mobility = usable(fa, fb)
    if not traffic or not mobility:
        return [{"corr_mad": float("nan"), "mi_mad": float("nan")}]
    if len(fa) <= len(fb):
        return [_distance(fa, fb, traffic, mobility)]
    rng = np.random.default_rng(seed)
    return [_distance(fa.iloc[rng.choice(len(fa), len(fb), replace=False)], fb, traffic, mobility)
            for _ in range(draws)]


def feature_distance(fa: pd.DataFrame, fb: pd.DataFrame, draws: int = DRAWS,
                     seed: int = 0) -> dict[str, float]:
    """``corr_mad`` and ``mi_mad`` of ``fa`` to ``fb`` (mean over :func:`distance_draws`)."""
    d = distance_draws(fa, fb, draws, seed)
    return {k: float(np.mean([x[k] for x in d])) for k in d[0]}


def coupling_distance(a, b, seed: int = 0) -> dict[str, float]:
    """:func:`feature_distance` of two samples."""
    return feature_distance(sample_features(a), sample_features(b), seed=seed)


def floor_spread(train, holdout, seed: int = 0, draws: int = 200) -> dict[str, list[float]]:
    """2.5 and 97.5 % quantiles of the floor's distances over random subsets of the training users."""
    d = distance_draws(sample_features(train), sample_features(holdout), draws, seed)
    return {k: [float(np.quantile([x[k] for x in d], q)) for q in (0.025, 0.975)] for k in d[0]}


def coupling_scores(candidate, real) -> tuple[dict[str, float], dict[str, str]]:
    """``coupling/{corr_mad,mi_mad}`` of two :class:`~zen.evaluation.sample.CDRSample` with cells."""
    if not (candidate.has_cells and real.has_cells):
        return {}, {"coupling": "needs cells with coordinates on both sides (mobility features)"}
    d = coupling_distance(candidate, real)
    return {f"coupling/{k}": v for k, v in d.items()}, {}
