"""Privacy audit of a synthetic population against the real users it was trained on.

- Distance to closest record (DCR): each synthetic user's feature vector to the nearest training
  user, against each held-out real user's (never trained on) to the nearest training user. A
  median ratio well under 1 means synthetic users sit closer to training users than fresh real
  people do, i.e. the generator memorised.
- Membership inference: a distance attack scores each real user by its distance to the nearest
  synthetic user; the AUC of telling training users from held-out users (0.5 = no leak).
- Exact copies: share of synthetic users whose whole event sequence (minutes since the window
  start, event, direction, duration rounded to the second) equals a training user's.
- Model audits (:func:`model_audits`): the white-box and likelihood-ratio membership attacks with
  their empirical epsilon lower bounds, beside the accountant's epsilon of a DP model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from zen.data.base import CDRData
from zen.measures.individual import TRAFFIC_FEATURES

#: Features on a log scale before standardising (counts, rates, times).
LOG_FEATURES = {"events_per_day", "calls_per_day", "sms_per_day", "data_per_day",
                "inter_event_median_s", "call_duration_mean_s", "distinct_contacts"}


def feature_matrix(features: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Standardised feature vectors, scaled by the ``reference`` (training) users. ``[users, features]``.

    Counts, rates and times are log1p'ed; undefined values take the reference median; features that
    are constant in the reference are dropped.
    """
    columns = [c for c in TRAFFIC_FEATURES if c in features and c in reference]

    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[columns].astype(float).copy()
        logs = [c for c in columns if c in LOG_FEATURES]
        out[logs] = np.log1p(out[logs].clip(lower=0))
        return out

    ref = transform(reference)
    median = ref.median()
    ref = ref.fillna(median)
    mean, std = ref.mean(), ref.std()
    keep = (std > 0).to_numpy()
    values = (transform(features).fillna(median) - mean) / std.where(std > 0, 1.0)
    return values.to_numpy()[:, keep]


def closest_distances(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Euclidean distance of each query row to its nearest pool row. ``[queries]``."""
    if len(queries) == 0 or len(pool) == 0:
        return np.full(len(queries), np.nan)
    return NearestNeighbors(n_neighbors=1).fit(pool).kneighbors(queries)[0][:, 0]


def sequence_signatures(sample: CDRData) -> pd.Series:
    """One order-sensitive 64-bit-triple signature per user of the whole event sequence.

    Rows are hashed on (minutes since the window start, event, direction, duration in whole
    seconds); a user's signature is (events, sum of hashes, sum of hash x position), wrapping
    modulo 2**64, so equal sequences get equal signatures without a loop per user.
    """
    records = sample.records.sort_values(["user_id", "timestamp"], kind="stable")
    minute = np.floor((records["timestamp"] - sample.start).dt.total_seconds().to_numpy() / 60.0)
    rows = pd.DataFrame({"minute": minute.astype(np.int64), "event": records["event"].astype(str).to_numpy(),
                         "direction": records["direction"].astype(str).to_numpy(),
                         "duration": np.round(records["duration_s"].to_numpy()).astype(np.int64)})
    row_hash = pd.util.hash_pandas_object(rows, index=False).to_numpy(dtype=np.uint64)
    user = records["user_id"].to_numpy()
    position = (records.groupby("user_id").cumcount().to_numpy() + 1).astype(np.uint64)
    frame = pd.DataFrame({"user_id": user, "h": row_hash, "hp": row_hash * position})
    sums = frame.groupby("user_id").agg(n=("h", "size"), h=("h", "sum"), hp=("hp", "sum"))
    return sums["n"].astype(str) + ":" + sums["h"].astype(str) + ":" + sums["hp"].astype(str)


def exact_copy_share(candidate: CDRData, train: CDRData) -> float:
    """Share of the candidate's users whose event sequence equals a training user's."""
    cand, ref = sequence_signatures(candidate), sequence_signatures(train)
    return float(cand.isin(set(ref.to_numpy())).mean()) if len(cand) else float("nan")


def privacy_scores(candidate: CDRData, train: CDRData,
                   holdout: CDRData) -> tuple[dict[str, float], dict]:
    """DCR distributions and ratio, membership-inference AUC and exact-copy share.

    Args:
        candidate: the synthetic population.
        train: the real users the generator was trained on.
        holdout: real users it never saw.

    Returns:
        (scores keyed ``privacy/<measure>``, details with the DCR samples for plots).
    """
    x_train = feature_matrix(train.features, train.features)
    x_cand = feature_matrix(candidate.features, train.features)
    x_hold = feature_matrix(holdout.features, train.features)
    dcr_cand, dcr_hold = closest_distances(x_cand, x_train), closest_distances(x_hold, x_train)
    med_hold = float(np.median(dcr_hold))
    scores = {
        "privacy/dcr_median": float(np.median(dcr_cand)),
        "privacy/dcr_median_holdout": med_hold,
        "privacy/dcr_ratio": float(np.median(dcr_cand) / med_hold) if med_hold > 0 else float("nan"),
        "privacy/dcr_zero_share": float((dcr_cand < 1e-9).mean()),
    }
    to_synthetic = np.concatenate([closest_distances(x_train, x_cand), closest_distances(x_hold, x_cand)])
    member = np.concatenate([np.ones(len(x_train)), np.zeros(len(x_hold))])
    scores["privacy/mia_auc"] = float(roc_auc_score(member, -to_synthetic)) \
        if 0 < member.sum() < len(member) else float("nan")
    scores["privacy/exact_copy_share"] = exact_copy_share(candidate, train)
    return scores, {"dcr_candidate": dcr_cand, "dcr_holdout": dcr_hold}


# ------------------------------------------------------------------------------------ attacks
def tpr_at_fpr(member: np.ndarray, nonmember: np.ndarray, fpr: float = 0.01) -> float:
    """True-positive rate of the threshold that flags at most ``fpr`` of the non-members
    (higher score = more likely a member)."""
    member, nonmember = np.asarray(member, float), np.asarray(nonmember, float)
    if len(member) == 0 or len(nonmember) == 0:
        return float("nan")
    k = int(np.floor(fpr * len(nonmember)))  # non-members allowed above the threshold
    threshold = np.sort(nonmember)[::-1][k] if k < len(nonmember) else -np.inf
    return float((member > threshold).mean())


def _clopper_pearson(k: int, n: int, alpha: float) -> tuple[float, float]:
    from scipy.stats import beta

    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def epsilon_lower_bound(member: np.ndarray, nonmember: np.ndarray, delta: float,
                        confidence: float = 0.95) -> float:
    """An empirical lower bound on epsilon from a membership attack (Jagielski et al., NeurIPS
    2020; Nasr et al., IEEE S&P 2021).

    (epsilon, delta)-DP bounds every threshold test: TPR <= e^eps FPR + delta and
    1 - FPR <= e^eps (1 - TPR) + delta. With Clopper-Pearson intervals at ``confidence``
    (TPR's lower end, FPR's upper end, Bonferroni over the two), each threshold gives
    ``eps >= log((TPR_lo - delta) / FPR_hi)`` and ``log((1 - FPR_hi - delta) / (1 - TPR_lo))``;
    the bound is the best
    over thresholds. It holds for the users scored, is 0 when the attack is no better than
    chance, and can never exceed what the data size allows (a few hundred users cap it near 2).
    """
    member, nonmember = np.asarray(member, float), np.asarray(nonmember, float)
    if len(member) == 0 or len(nonmember) == 0:
        return float("nan")
    alpha = (1 - confidence) / 2
    best = 0.0
    for t in np.unique(np.concatenate([member, nonmember])):
        tp, fp = int((member >= t).sum()), int((nonmember >= t).sum())
        tpr_lo, _ = _clopper_pearson(tp, len(member), alpha)
        _, fpr_hi = _clopper_pearson(fp, len(nonmember), alpha)
        # both forms use the pessimistic ends: TPR low, FPR high (so 1 - FPR low, 1 - TPR high)
        if fpr_hi > 0 and tpr_lo - delta > 0:
            best = max(best, np.log((tpr_lo - delta) / fpr_hi))
        if 1 - tpr_lo > 0 and 1 - fpr_hi - delta > 0:
            best = max(best, np.log((1 - fpr_hi - delta) / (1 - tpr_lo)))
    return float(best)


def membership_audit(member: np.ndarray, nonmember: np.ndarray, delta: float,
                     prefix: str) -> dict[str, float]:
    """AUC, TPR at 1 % FPR and the empirical epsilon lower bound of one attack's scores
    (higher = more likely a member), keyed ``privacy/<prefix>_<measure>``."""
    member, nonmember = np.asarray(member, float), np.asarray(nonmember, float)
    labels = np.concatenate([np.ones(len(member)), np.zeros(len(nonmember))])
    scores = np.concatenate([member, nonmember])
    auc = float(roc_auc_score(labels, scores)) if len(member) and len(nonmember) else float("nan")
    return {f"privacy/{prefix}_auc": auc,
            f"privacy/{prefix}_tpr_at_1fpr": tpr_at_fpr(member, nonmember, 0.01),
            f"privacy/{prefix}_eps_lower": epsilon_lower_bound(member, nonmember, delta)}


def likelihood_ratio_scores(candidate: CDRData, reference: CDRData, train: CDRData,
                            queries: list[CDRData], components: int = 4,
                            seed: int = 0) -> list[np.ndarray]:
    """Density-ratio (likelihood-ratio) membership scores from the released data (DOMIAS, van
    Breugel et al., AISTATS 2023): ``log p_synthetic(x) - log p_reference(x)`` for each query
    user's feature vector ``x``, with Gaussian mixtures fitted on the synthetic users and on
    real users the attacker holds (``reference``, never trained on; a shadow population). A
    generator that memorised puts extra density on its training users.

    Features are scaled by the ``train`` users, as in the DCR (the attacker could use any
    public scaling; this one is what the other audits use).
    """
    from sklearn.mixture import GaussianMixture

    x_cand = feature_matrix(candidate.features, train.features)
    x_ref = feature_matrix(reference.features, train.features)
    k_c = int(min(components, max(1, len(x_cand) // 20)))
    k_r = int(min(components, max(1, len(x_ref) // 20)))
    p_syn = GaussianMixture(k_c, covariance_type="full", reg_covar=1e-2, random_state=seed).fit(x_cand)
    p_ref = GaussianMixture(k_r, covariance_type="full", reg_covar=1e-2, random_state=seed).fit(x_ref)
    out = []
    for q in queries:
        x = feature_matrix(q.features, train.features)
        out.append(p_syn.score_samples(x) - p_ref.score_samples(x))
    return out


def model_audits(synthetic: CDRData, train: CDRData, real: CDRData, reference: CDRData | None,
                 model_dir: Path | None, record: dict) -> tuple[dict, dict, dict, dict]:
    """The audits beside the accountant's epsilon, for the model that made ``synthetic``
    (``model_dir`` and its ``model.json`` ``record``; None and {} when unknown): the white-box
    attack (the model's own per-user likelihood, training vs held-out users; floor: the
    ``reference`` users, also unseen, vs held-out users), the likelihood-ratio attack on the
    synthetic data (attacker's shadow population: ``reference``) and the empirical epsilon lower
    bound of each.

    Returns:
        scores, floor scores, skipped (metric -> why) and what the report shows of the model's
        formal guarantee.
    """
    scores: dict[str, float] = {}
    floor: dict[str, float] = {}
    skipped: dict[str, str] = {}
    dp = record.get("privacy") or {"private": False}
    delta = float(dp["delta"]) if dp.get("private") else 1.0 / (10 * train.n_users)
    if dp.get("private"):  # a non-private model has no (epsilon, delta): the report says so
        scores["privacy/epsilon"], scores["privacy/delta"] = float(dp["epsilon"]), delta
    if record.get("traffic_kind") == "lstm" and model_dir is not None:
        from zen.traffic.lstm import LSTMTrafficModel

        model = LSTMTrafficModel.load(model_dir / "traffic")
        nll_real = model.nll_per_user(real)
        scores.update(membership_audit(-model.nll_per_user(train), -nll_real, delta, "whitebox"))
        if reference is not None:
            floor.update(membership_audit(-model.nll_per_user(reference), -nll_real, delta, "whitebox"))
    else:
        skipped["privacy/whitebox"] = ("white-box attack needs the LSTM's model folder "
                                       f"(found {model_dir}, kind {record.get('traffic_kind')})")
    if reference is not None:
        member, nonmember = likelihood_ratio_scores(synthetic, reference, train, [train, real])
        scores.update(membership_audit(member, nonmember, delta, "lr"))
        skipped["privacy/lr floor"] = ("the likelihood-ratio attack's floor is not defined: its "
                                       "shadow population is the floor's reference users")
    else:
        skipped["privacy/lr"] = "no real reference users (privacy_floor) for the likelihood-ratio attack"
    keep = ("private", "epsilon", "delta", "unit", "not_private", "covers_everything")
    guarantee = {k: dp[k] for k in keep if k in dp}
    sgd = next((r for r in dp.get("releases", []) if r["name"] == "traffic LSTM weights"), None)
    if sgd is not None:
        guarantee["accountant"] = sgd["details"].get("accountant")
        guarantee["noise_multiplier"] = sgd["details"].get("noise_multiplier")
    return scores, floor, skipped, guarantee
