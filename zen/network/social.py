"""The social graph: who contacts whom, fitted on real CDRs and generated for synthetic users.

Generation (all vectorised over stubs, no loop per user):

1. Each user gets a degree from the fitted degree distribution (a Gaussian copula on the user's
   activity makes active users have more ties) and splits it into on- and off-network contacts.
2. Spatial ties: every on-network stub is displaced from its owner's home by a random vector
   whose density per unit area falls as d^-κ (κ = ``distance_decay_exponent``); stubs are sorted
   along a Hilbert curve of the displaced points and neighbours on the curve are paired: a
   configuration model whose pairs are close in space. Degrees are kept, up to the few self or
   repeated pairs dropped. Pairing two displaced stubs widens the kernel: the default κ = 2.35
   gives a probability of a tie between two people ∝ d^-2 (measured on uniform and Milan homes,
   experiments/network.md), the exponent found in mobile-phone networks by Lambiotte et al.,
   Physica A 387:5317, 2008 (and in friendship networks by Liben-Nowell et al., PNAS 102:11623, 2005).
3. Triadic closure: a fitted share of each user's on-network ties comes in triangles (two ties
   per triangle corner, three nearby people per triangle, as in the clustered random graphs of
   Newman, PRL 103:058701, 2009), which gives the clustering of the real graph.
4. Each tie is mutual with the fitted probability (else one-way, random direction); its strength
   (events per tie) is drawn from the fitted distribution and split between the two directions.

Night assortativity (an option, ``night_target``): given each user's night tendency (the
expected night share of the clock the traffic model will give them,
``LSTMTrafficModel.night_tendency``), the slots of steps 2-3 are re-sorted within blocks of
``NIGHT_BLOCK`` consecutive slots along the Hilbert curve by a key ρ·z + √(1-ρ²)·ε (z the
standardised tendency, ε standard normal), so that neighbours in space pair with neighbours in
night activity; ρ is calibrated by bisection on a subsample so that the correlation of the
tendency across ties (:func:`partner_night_corr`) is the target. The target fitted on the real
data (``night_assortativity``) is the same correlation of the training users' own night shares
(those of the conversations each user starts).
Without a target the graph is the same, draw for draw, as without the option.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from zen.geo import LocalProjection
from zen.io import write_json_atomic
from zen.network.graph_stats import OFFNET_BASE, edges_from_records, graph_measures
from zen.network.layout import sample_city_points
from zen.network.partners import (
    fit_partner_day_power,
    fit_partner_hour_powers,
    fit_partner_pair_powers,
    partner_choices,
)
from zen.network.startbacks import fit_records as fit_startbacks
from zen.network.starters import fit_records as fit_starter_split
from zen.schema import ZenInputError
from zen.traffic.turns import fit_records as fit_turns

QUANTILE_POINTS = 101  # probabilities 0, 0.01, ..., 1 of the stored quantile functions
HILBERT_ORDER = 16     # Hilbert curve over a 65,536 x 65,536 grid of the region
NIGHT_BLOCK = 24       # slots (consecutive on the Hilbert curve) re-sorted by night tendency
NIGHT_MIN_EVENTS = 10  # users with fewer events are left out of the fitted night assortativity
NIGHT_CALIBRATION_USERS = 4000  # subsample on which the night key weight is calibrated


@dataclass
class SocialParams:
    """Fitted parameters of the social graph (JSON-serialisable; no user is stored).

    Attributes:
        degree_pmf: P(degree = k) for k = 1..len (distinct contacts in the observation window).
        offnet_share: share of contacts outside the observed population.
        reciprocity: share of directed edges whose reverse edge exists.
        clustering: mean local clustering of on-network users (the target of ``triangle_share``).
        triangle_share: probability that two of a user's on-network ties are a triangle corner
            (calibrated to ``clustering``).
        tie_strength_quantiles: events per undirected tie at probabilities 0, 0.01, ..., 1.
        mutual_split_quantiles: share of a mutual tie's events in one (random) direction, same grid.
        top_contact_share: mean share of a user's events with their strongest tie (for reports).
        activity_degree_corr: Spearman correlation of events/day and degree (copula parameter).
        window_days: observation window of the fit (days); weights are events per window.
        n_users_fitted: users the parameters come from.
        distance_decay_exponent: κ of the stub displacement kernel (density per area ∝ d^-κ); the
            default 2.35 yields tie probability ∝ d^-2 as in the literature (not fitted: the
            training data has no locations).
        min_distance_m: shortest tie displacement (metres); shorter distances are one neighbourhood.
        max_distance_m: longest tie displacement (metres).
        degree_scale: multiplies sampled degrees (1 = as fitted).
        friend_overlap: share of on-network call/SMS ties that are also declared friendships
            (evidence only; None without a friendship table).
        partner_day_power: β of the partner choice (``zen.network.partners``): how strongly a
            started conversation goes to a tie active that day (0: the traffic model's tie;
            older model folders, fitted before it existed, read as 0).
        partner_pair_day_power, partner_pair_power: β' and γ of the pair-level partner choice
            (``partners=pair``, ``zen.network.partners``), fitted jointly (older folders: 0).
        partner_hour_day_power, partner_hour_power: β'' and η of the hour-level partner choice
            (``partners=hour``, ``zen.network.partners``), fitted jointly (older folders: 0).
        night_assortativity: Pearson correlation of the own night shares (00-06 h, of each
            user's starter view) of the two ends of an on-network tie, over the ties between
            fitted users with at least ``NIGHT_MIN_EVENTS`` such events each (both orientations;
            :func:`partner_night_corr`); the target of ``night_assortativity=fit`` at
            generation (older folders: 0).
        night_assortativity_ties: ties that correlation is measured on.
        startbacks: the start-back law of ``zen.network.startbacks`` (share of a both-way pair's
            conversations near one by the partner, quantiles of the delay; older folders: None,
            no start-backs).
        starter_split: who starts a pair's conversations (``zen.network.starters``: quantiles
            of the larger side's share by pair size; older folders: None, no hand-over).
        turns: the chain of a conversation's turns (``zen.traffic.turns``: next-event
            probabilities, pause and call-duration quantiles; older folders: None, the traffic
            model's own turns).
        night_tendency_r2: R² between a new user's night tendency and the night share of their
            sampled events (``zen.generation.pipeline.tendency_reliability``, measured by
            ``zen-train`` on the fitted traffic model; 0 when the model has no per-user clocks):
            tendencies correlated ρ across ties give own night shares correlated about ρ·R², so
            ``night_assortativity=fit`` aims the tendencies at ``night_assortativity / R²``.
    """

    degree_pmf: list[float]
    offnet_share: float
    reciprocity: float
    clustering: float
    triangle_share: float
    tie_strength_quantiles: list[float]
    mutual_split_quantiles: list[float]
    top_contact_share: float
    activity_degree_corr: float
    window_days: float
    n_users_fitted: int
    distance_decay_exponent: float = 2.35
    min_distance_m: float = 100.0
    max_distance_m: float = 100_000.0
    degree_scale: float = 1.0
    friend_overlap: float | None = None
    partner_day_power: float = 0.0
    partner_pair_day_power: float = 0.0
    partner_pair_power: float = 0.0
    partner_hour_day_power: float = 0.0
    partner_hour_power: float = 0.0
    night_assortativity: float = 0.0
    night_assortativity_ties: int = 0
    night_tendency_r2: float = 0.0
    startbacks: dict | None = None
    starter_split: dict | None = None
    turns: dict | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "SocialParams") -> SocialParams:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ZenInputError(f"unknown social parameters {sorted(unknown)}", source)
        return cls(**d)

    def save(self, path: str | Path) -> Path:
        return write_json_atomic(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> SocialParams:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()), str(path))
        except (OSError, json.JSONDecodeError, TypeError) as err:
            raise ZenInputError(f"cannot read social parameters: {err}", str(path)) from err


# ---------------------------------------------------------------------------------------------- fit

def fit_social(records: pd.DataFrame, user_ids: np.ndarray, friendships: pd.DataFrame | None = None,
               days: float | None = None, calibration_users: int = 3000, seed: int = 0,
               observed_ids: np.ndarray | None = None) -> SocialParams:
    """Fit the social graph parameters on the records of ``user_ids`` (e.g. the training users).

    Args:
        records: two-sided CDR records; only those of ``user_ids`` are used. Counterparts outside
            ``user_ids`` count as outside the observed population for the graph statistics.
        user_ids: the users the graph statistics are measured on.
        observed_ids: every subscriber of the data set (all splits). The off-network share is
            the share of contacts outside them: a held-out subscriber is on the network, even if
            the graph statistics do not see their records. ``user_ids`` when None.
        friendships: optional undirected ``src, dst`` friendships (e.g. ``fb_friends.csv``).
        days: observation window (days); the span of the timestamps when None.
        calibration_users: size of the simulated population used to calibrate triadic closure.
        seed: seed of that simulation.
    """
    user_ids = np.unique(np.asarray(user_ids, np.int64))
    rec = records[records["user_id"].isin(user_ids)]
    if len(rec) == 0:
        raise ZenInputError("no records of the given users; cannot fit the social graph", "fit_social")
    if days is None:
        span = (rec["timestamp"].max() - rec["timestamp"].min()).total_seconds() / 86400.0
        days = float(max(1.0, np.ceil(span)))
    edges = _relabel_outsiders(edges_from_records(rec), user_ids)
    m = graph_measures(edges, user_ids)
    if len(m.degree) == 0:
        raise ZenInputError("the records have no calls or SMS with a counterpart", "fit_social")
    degree_pmf = np.bincount(m.degree)[1:] / len(m.degree)
    events = rec.groupby("user_id").size()
    deg_by_user = _degree_by_user(edges, events.index.to_numpy(np.int64))
    from scipy.stats import spearmanr  # here, not at import: generation never fits (~0.4 s per process)

    corr = float(spearmanr(events.to_numpy(), deg_by_user).statistic) if len(events) > 2 else 0.0
    population = user_ids if observed_ids is None else np.union1d(user_ids, observed_ids)
    choices = partner_choices(rec, user_ids)  # built once for both partner-choice fits
    params = SocialParams(
        degree_pmf=degree_pmf.tolist(),
        offnet_share=_offnet_share(rec, population),
        reciprocity=float(m.reciprocity),
        clustering=float(np.mean(m.clustering)) if len(m.clustering) else 0.0,
        triangle_share=0.0,
        tie_strength_quantiles=_quantiles(m.tie_strength),
        mutual_split_quantiles=_quantiles(_mutual_split(edges)),
        top_contact_share=float(np.nanmean(m.top_share)),
        activity_degree_corr=0.0 if not np.isfinite(corr) else corr,
        window_days=float(days),
        n_users_fitted=int(len(user_ids)),
        friend_overlap=_friend_overlap(edges, friendships),
        partner_day_power=fit_partner_day_power(choices),
    )
    params.partner_pair_day_power, params.partner_pair_power = fit_partner_pair_powers(choices)
    params.partner_hour_day_power, params.partner_hour_power = fit_partner_hour_powers(choices)
    params.night_assortativity, params.night_assortativity_ties = _night_assortativity(rec, edges, user_ids)
    params.startbacks = fit_startbacks(rec, user_ids)
    params.starter_split = fit_starter_split(rec, user_ids)
    params.turns = fit_turns(rec, user_ids) or None
    params.triangle_share = calibrate_triangles(params, calibration_users, seed)
    return params


def _night_assortativity(records: pd.DataFrame, edges: pd.DataFrame, user_ids: np.ndarray
                         ) -> tuple[float, int]:
    """Correlation of the users' own night shares across their on-network ties
    (:func:`partner_night_corr`), and the number of ties it is measured on.

    A user's own night share is that of their starter view (the conversations they started,
    both sides' turns, with their data sessions and events without a counterpart,
    ``zen.measures.conversations.started_by_user``): all their records would share every
    conversation between the two ends and correlate partners by construction. Users with fewer
    than ``NIGHT_MIN_EVENTS`` events in it are left out.
    """
    from zen.measures.conversations import started_by_user

    records = records.sort_values(["user_id", "timestamp"], kind="stable")
    corr, n_ties = tie_night_corr(records[started_by_user(records)], edges, user_ids)
    return (0.0 if not np.isfinite(corr) else corr), n_ties


def tie_night_corr(records: pd.DataFrame, edges: pd.DataFrame, user_ids: np.ndarray) -> tuple[float, int]:
    """:func:`partner_night_corr` of the users' night shares in ``records``
    (:func:`user_night_shares`) over the ``edges`` between ``user_ids`` (sorted ids); NaN when
    no tie has both shares."""
    user_ids = np.asarray(user_ids, np.int64)
    share = user_night_shares(records, user_ids)
    on = edges[edges["src"].isin(user_ids) & edges["dst"].isin(user_ids)]
    ties = np.stack([np.searchsorted(user_ids, on["src"].to_numpy(np.int64)),
                     np.searchsorted(user_ids, on["dst"].to_numpy(np.int64))], axis=1)
    return partner_night_corr(ties, share)


def user_night_shares(records: pd.DataFrame, user_ids: np.ndarray) -> np.ndarray:
    """``[users]`` share of each user's ``records`` at night (00-06 h), NaN for users with fewer
    than ``NIGHT_MIN_EVENTS`` records; ``user_ids`` sorted, holding every record's user."""
    from zen.measures.individual import NIGHT_HOURS

    user_ids = np.asarray(user_ids, np.int64)
    hour = records["timestamp"].dt.hour.to_numpy()
    night = (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])
    index = np.searchsorted(user_ids, records["user_id"].to_numpy(np.int64))
    count = np.bincount(index, minlength=len(user_ids))
    share = np.bincount(index, weights=night, minlength=len(user_ids)) / np.maximum(count, 1)
    share[count < NIGHT_MIN_EVENTS] = np.nan
    return share


def partner_night_corr(ties: np.ndarray, night: np.ndarray) -> tuple[float, int]:
    """Pearson correlation of ``night[u]`` and ``night[v]`` over the distinct undirected ties
    ``(u, v)`` (rows of ``ties`` ``[T, 2]``, indices into ``night``; self pairs and ends whose
    value is NaN left out), each tie in both orientations; and the number of ties. NaN for
    fewer than 3 ties."""
    ties = np.unique(np.sort(np.asarray(ties, np.int64).reshape(-1, 2), axis=1), axis=0)
    ties = ties[ties[:, 0] != ties[:, 1]]
    x, y = night[ties[:, 0]], night[ties[:, 1]]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3:
        return float("nan"), int(len(x))
    a, b = np.concatenate([x, y]), np.concatenate([y, x])
    if a.std() == 0:
        return float("nan"), int(len(x))
    return float(np.corrcoef(a, b)[0, 1]), int(len(x))


def _offnet_share(records: pd.DataFrame, population: np.ndarray) -> float:
    """Share of the distinct (user, counterpart) contacts in ``records`` whose counterpart is
    not in ``population``."""
    pairs = records.loc[records["counterpart_id"] >= 0, ["user_id", "counterpart_id"]].drop_duplicates()
    return float((~pairs["counterpart_id"].isin(population)).mean()) if len(pairs) else 0.0


def _relabel_outsiders(edges: pd.DataFrame, user_ids: np.ndarray) -> pd.DataFrame:
    """Give counterparts outside ``user_ids`` off-network ids (>= OFFNET_BASE)."""
    out = edges.copy()
    nodes = np.unique(np.concatenate([out["src"].to_numpy(), out["dst"].to_numpy()]))
    outsiders = nodes[~np.isin(nodes, user_ids)]
    for col in ("src", "dst"):
        v = out[col].to_numpy(np.int64)
        is_out = ~np.isin(v, user_ids)
        v = v.copy()
        v[is_out] = OFFNET_BASE + np.searchsorted(outsiders, v[is_out])
        out[col] = v
    return out


def _degree_by_user(edges: pd.DataFrame, users: np.ndarray) -> np.ndarray:
    """Distinct contacts (either direction) of each of ``users``, ``[users]``."""
    pairs = pd.concat([edges[["src", "dst"]].set_axis(["u", "v"], axis=1),
                       edges[["dst", "src"]].set_axis(["u", "v"], axis=1)]).drop_duplicates()
    counts = pairs.groupby("u").size()
    return counts.reindex(users, fill_value=0).to_numpy()


def _quantiles(x: np.ndarray) -> list[float]:
    x = np.asarray(x, float)
    if len(x) == 0:
        return [1.0] * QUANTILE_POINTS
    return np.quantile(x, np.linspace(0.0, 1.0, QUANTILE_POINTS)).tolist()


def _mutual_split(edges: pd.DataFrame) -> np.ndarray:
    """Share of a mutual tie's events in its src < dst direction, one value per mutual tie."""
    e = edges[edges["src"] != edges["dst"]]
    fwd = e[e["src"] < e["dst"]].set_index(["src", "dst"])["weight"]
    bwd = e[e["src"] > e["dst"]].set_index(["dst", "src"])["weight"]
    bwd.index = bwd.index.set_names(["src", "dst"])
    both = pd.concat([fwd.rename("f"), bwd.rename("b")], axis=1, join="inner")
    share = (both["f"] / (both["f"] + both["b"])).to_numpy()
    return np.concatenate([share, 1.0 - share])  # symmetric: the direction label is arbitrary


def _friend_overlap(edges: pd.DataFrame, friendships: pd.DataFrame | None) -> float | None:
    if friendships is None or len(friendships) == 0:
        return None
    on = edges[(edges["src"] < OFFNET_BASE) & (edges["dst"] < OFFNET_BASE)]
    ties = np.unique(np.sort(on[["src", "dst"]].to_numpy(np.int64), axis=1), axis=0)
    if len(ties) == 0:
        return None
    friends = np.unique(np.sort(friendships[["src", "dst"]].to_numpy(np.int64), axis=1), axis=0)
    return float(np.isin(_pair_key(ties), _pair_key(friends)).mean())


def _pair_key(pairs: np.ndarray) -> np.ndarray:
    """One int64 per (u, v) pair of ids below 2**31."""
    return pairs[:, 0].astype(np.int64) * (1 << 31) + pairs[:, 1]


def _pair_order(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Indices that sort the pairs ``(a[i], b[i])`` by ``a`` then ``b``, stably: ``np.lexsort((b, a))``,
    as one int64 argsort (~2.5x faster) when ``0 <= a < 2**32`` and ``0 <= b < 2**31``."""
    if len(a) and (min(a.min(), b.min()) < 0 or a.max() >= 1 << 32 or b.max() >= 1 << 31):
        return np.lexsort((b, a))
    return np.argsort(_pair_key(np.stack([a, b], axis=1)), kind="stable")


def _id_dtype(max_id: int) -> type:
    """int32 for ids up to 2**31 - 1 (OFFNET_BASE + 1.1 billion), else int64."""
    return np.int32 if max_id < 1 << 31 else np.int64


def calibrate_triangles(params: SocialParams, n_users: int = 3000, seed: int = 0,
                        iterations: int = 8) -> float:
    """The triangle share whose generated graph has the fitted clustering (bisection on a simulation).

    The simulated users live in a synthetic city (exponential density, 3 km scale); the result
    depends little on the layout because triangle units, not distance, make most triangles.
    """
    rng = np.random.default_rng(seed)
    lat, lon = LocalProjection(45.0, 9.0).to_latlon(sample_city_points(n_users, 3.0, 25.0, rng))
    lo, hi = 0.0, 0.95
    for _ in range(iterations):
        mid = (lo + hi) / 2
        trial = dataclasses.replace(params, triangle_share=mid)
        m = graph_measures(generate_social_graph(trial, lat, lon, None, seed), np.arange(n_users))
        if (np.mean(m.clustering) if len(m.clustering) else 0.0) < params.clustering:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


# ----------------------------------------------------------------------------------------- generate

def generate_social_graph(params: SocialParams, home_lat: np.ndarray, home_lon: np.ndarray,
                          activity: np.ndarray | None = None, seed: int = 0,
                          night: np.ndarray | None = None, night_target: float | None = None) -> pd.DataFrame:
    """A directed social graph for users 0..N-1 living at the given homes.

    Args:
        params: fitted parameters.
        home_lat: ``[N]`` home latitude of each user (degrees).
        home_lon: ``[N]`` home longitude (degrees).
        activity: optional ``[N]`` events/day per user; more active users get more ties.
        seed: random seed; same seed and inputs ⇒ same graph.
        night: optional ``[N]`` night tendency per user (e.g. expected night share).
        night_target: with ``night``, the correlation of the tendency across on-network ties to
            reach (:func:`calibrate_night_mix`; the most the block re-sort reaches when higher);
            None or 0: no night assortativity (the same graph as without ``night``).

    Returns:
        Edges ``src, dst, weight`` (int32 ids, int64 past 2**31 - 1; float64), sorted by ``src, dst``;
        weight = events per observation window in that direction (a relative tie strength).
        Off-network contacts have ids ``>= OFFNET_BASE``. Every user has at least one contact: a
        user whose on-network stubs were all dropped (self or repeated pairs) gets one off-network
        contact instead.
    """
    home_lat, home_lon = np.asarray(home_lat, float), np.asarray(home_lon, float)
    n = len(home_lat)
    if n == 0 or len(home_lon) != n or (activity is not None and len(activity) != n) \
            or (night is not None and len(night) != n):
        raise ZenInputError("home_lat, home_lon (and activity, night) need the same non-zero length",
                            "generate_social_graph")
    night_z, mix = None, 0.0
    if night is not None and night_target:
        night = np.asarray(night, np.float64)
        if not np.all(np.isfinite(night)):
            raise ZenInputError("night tendencies must be finite", "generate_social_graph")
        if np.ptp(night) > 0:
            night_z = (night - night.mean()) / night.std()
            mix = calibrate_night_mix(params, home_lat, home_lon, activity, night, float(night_target), seed)
    return _generate(params, home_lat, home_lon, activity, seed, night_z, mix)


def _generate(params: SocialParams, home_lat: np.ndarray, home_lon: np.ndarray, activity: np.ndarray | None,
              seed: int, night_z: np.ndarray | None, mix: float) -> pd.DataFrame:
    """:func:`generate_social_graph` with the night key weight ``mix`` (ρ) given."""
    n = len(home_lat)
    if night_z is None or mix <= 0:
        night_z = None
    rng = np.random.default_rng(seed)
    degree = _sample_degrees(params, n, activity, rng)
    offnet = rng.binomial(degree, params.offnet_share)
    onnet = degree - offnet
    corners = rng.binomial(onnet // 2, params.triangle_share)  # each triangle corner = 2 ties
    xy = LocalProjection(float(home_lat.mean()), float(home_lon.mean())).to_xy(home_lat, home_lon)
    keys, left = _spatial_groups(corners, xy, params, rng, np.empty(0, np.int64), size=3,
                                 night_z=night_z, mix=mix)
    keys, _ = _spatial_groups(onnet - 2 * (corners - left), xy, params, rng, keys, size=2,
                              night_z=night_z, mix=mix)
    alone = np.bincount(np.concatenate([keys // n, keys % n]), minlength=n) + offnet == 0  # rare, small N
    n_off = int((offnet + alone).sum())
    ids = _id_dtype(max(n, OFFNET_BASE + n_off))
    ties = np.stack([keys // n, keys % n], axis=1).astype(ids)
    del keys
    off_owner = np.repeat(np.arange(n, dtype=ids), offnet + alone)
    off_ties = np.stack([off_owner, (OFFNET_BASE + np.arange(n_off)).astype(ids)], axis=1)
    return _directed_weighted(np.concatenate([ties, off_ties]), params, rng)


def calibrate_night_mix(params: SocialParams, home_lat: np.ndarray, home_lon: np.ndarray,
                        activity: np.ndarray | None, night: np.ndarray, target: float, seed: int = 0,
                        n_users: int = NIGHT_CALIBRATION_USERS, iterations: int = 10) -> float:
    """The night key weight ρ in [0, 1] whose graph has ``target`` as the correlation of
    ``night`` across on-network ties (:func:`partner_night_corr`): bisection on a random
    subsample of at most ``n_users`` users (the correlation depends on the key, not on how many
    users share the region). 1 when even ρ = 1 stays below the target."""
    n = len(home_lat)
    rng = np.random.default_rng([seed, 0x6E69676874])  # its own stream: the graph's is untouched
    pick = np.sort(rng.choice(n, n_users, replace=False)) if n > n_users else np.arange(n)
    lat, lon, sub = home_lat[pick], home_lon[pick], np.asarray(night, np.float64)[pick]
    act = None if activity is None else np.asarray(activity)[pick]
    if np.ptp(sub) == 0:
        return 0.0
    z = (sub - sub.mean()) / sub.std()

    def corr(mix: float) -> float:
        edges = _generate(params, lat, lon, act, seed, z, mix)
        on = edges[(edges["src"] < len(pick)) & (edges["dst"] < len(pick))]
        value, _ = partner_night_corr(on[["src", "dst"]].to_numpy(np.int64), sub)
        return value if np.isfinite(value) else 0.0

    if target <= 0:
        return 0.0
    if corr(1.0) <= target:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if corr(mid) < target:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


def _sample_degrees(params: SocialParams, n: int, activity: np.ndarray | None,
                    rng: np.random.Generator) -> np.ndarray:
    """``[N]`` degrees from the fitted pmf; a Gaussian copula ties them to activity ranks."""
    noise = rng.standard_normal(n)
    if activity is not None and n > 1:
        rho = float(np.clip(params.activity_degree_corr, -0.99, 0.99))
        ranks = np.argsort(np.argsort(np.asarray(activity, float), kind="stable"), kind="stable")
        z_activity = ndtri((ranks + 0.5) / n)
        noise = rho * z_activity + np.sqrt(1.0 - rho * rho) * noise
    cdf = np.cumsum(params.degree_pmf)
    degree = 1 + np.searchsorted(cdf / cdf[-1], ndtr(noise), side="left")
    if params.degree_scale != 1.0:
        degree = np.maximum(1, np.round(degree * params.degree_scale)).astype(np.int64)
    return degree.astype(np.int64)


def _hilbert_index(ix: np.ndarray, iy: np.ndarray, order: int = HILBERT_ORDER) -> np.ndarray:
    """Position along a Hilbert curve of grid cells (ix, iy) in [0, 2**order) (vectorised)."""
    x, y = ix.astype(np.int32), iy.astype(np.int32)  # cells < 2**16; d < 2**32 needs int64
    side = 1 << order
    d = np.zeros(len(x), np.int64)
    s = side >> 1
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry)
        flip = ~ry & rx
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        swap = ~ry
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s >>= 1
    return d


def _displacements(n: int, params: SocialParams, extent_m: float, rng: np.random.Generator) -> np.ndarray:
    """``[n, 2]`` displacements (metres): density per area ∝ d^-α, lengths in [min, max] distance."""
    a = params.distance_decay_exponent
    lo = params.min_distance_m
    hi = max(lo * 1.01, min(params.max_distance_m, extent_m))
    u = rng.random(n)
    if abs(a - 2.0) < 1e-9:
        r = lo * (hi / lo) ** u
    else:
        e = 2.0 - a
        r = (lo ** e + u * (hi ** e - lo ** e)) ** (1.0 / e)
    theta = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _spatial_groups(counts: np.ndarray, xy: np.ndarray, params: SocialParams, rng: np.random.Generator,
                    keys: np.ndarray, size: int, rounds: int = 4, night_z: np.ndarray | None = None,
                    mix: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Tie users into pairs (``size`` 2) or triangles (``size`` 3) of people living near each other.

    Each user owns ``counts[u]`` slots; each slot is a point displaced from the user's home by the
    distance-decay kernel; slots are sorted along a Hilbert curve of those points and consecutive
    slots form a group. Groups with a repeated user (and pairs that already exist) are retried
    with fresh displacements for a few rounds.

    With ``night_z`` (standardised night tendency ``[N]``) and ``mix`` ρ > 0, the slots are
    then re-sorted within blocks of ``NIGHT_BLOCK`` consecutive slots by ρ·z + √(1-ρ²)·ε, so
    that groups are of nearby people of like night activity.

    Args:
        keys: sorted keys ``u * N + v`` (u < v) of the ties so far.

    Returns:
        (sorted keys of all ties, old and new; slots left unused ``[N]``).
    """
    n = len(xy)
    remaining = counts.astype(np.int64).copy()
    extent = float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0)))) + 1.0
    for _ in range(rounds):
        owner = np.repeat(np.arange(n, dtype=_id_dtype(n)), remaining)
        if len(owner) < size:
            break
        point = xy[owner] + _displacements(len(owner), params, extent, rng)
        point -= point.min(axis=0)  # in place, in the old order of operations: same cells
        point /= np.ptp(point, axis=0).max() + 1e-9
        point *= (1 << HILBERT_ORDER) - 1
        key = _hilbert_index(point[:, 0], point[:, 1])
        del point
        order = np.argsort(rng.random(len(owner)), kind="stable")  # ties of the curve at random:
        order = order[np.argsort(key[order], kind="stable")]  # np.lexsort((random, key)), ~4x faster
        del key
        if night_z is not None:
            mixed = mix * night_z[owner[order]] + np.sqrt(max(0.0, 1.0 - mix * mix)) \
                * rng.standard_normal(len(order))
            order = order[np.lexsort((mixed, np.arange(len(order)) // NIGHT_BLOCK))]
        groups = owner[order[: len(order) // size * size]].reshape(-1, size)
        if size == 2:
            keys, used = _add_unique(keys, groups, n)
        else:
            g = np.sort(groups, axis=1)
            used = g[(g[:, 0] != g[:, 1]) & (g[:, 1] != g[:, 2])]
            sides = np.concatenate([used[:, [0, 1]], used[:, [1, 2]], used[:, [0, 2]]])
            keys, _ = _add_unique(keys, sides, n)
        remaining = remaining - np.bincount(used.ravel(), minlength=n)
    return keys, remaining


def _add_unique(keys: np.ndarray, candidates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Add candidate ties ``[C, 2]`` that are not self pairs, repeats or already in ``keys``.

    Args:
        keys: sorted int64 keys ``u * n + v`` (u < v) of the existing ties.

    Returns:
        (sorted keys of all ties, the added ties ``[A, 2]``).
    """
    cand = np.sort(candidates, axis=1)
    cand = cand[cand[:, 0] != cand[:, 1]]
    key = cand[:, 0].astype(np.int64) * n + cand[:, 1]
    order = np.argsort(key, kind="stable")
    key, cand = key[order], cand[order]
    new = np.ones(len(key), bool)
    new[1:] = key[1:] != key[:-1]
    if len(keys):
        pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        new &= keys[pos] != key
    merged = np.concatenate([keys, key[new]])
    return merged[np.argsort(merged, kind="stable")], cand[new]  # two sorted runs: a linear merge


def _directed_weighted(ties: np.ndarray, params: SocialParams, rng: np.random.Generator) -> pd.DataFrame:
    """Directions (mutual with the fitted probability) and weights of undirected ties ``[T, 2]``."""
    t = len(ties)
    mutual_share = params.reciprocity / max(2.0 - params.reciprocity, 1e-9)  # edge-level -> tie-level
    mutual = rng.random(t) < mutual_share
    flip = rng.random(t) < 0.5
    a = np.where(flip, ties[:, 1], ties[:, 0])
    b = np.where(flip, ties[:, 0], ties[:, 1])
    grid = np.linspace(0.0, 1.0, QUANTILE_POINTS)
    strength = np.maximum(1.0, np.round(np.interp(rng.random(t), grid, params.tie_strength_quantiles)))
    split = np.interp(rng.random(t), grid, params.mutual_split_quantiles)
    forward = np.where(mutual, np.maximum(strength * split, 0.0), strength)
    src = np.concatenate([a, b[mutual]])
    dst = np.concatenate([b, a[mutual]])
    weight = np.concatenate([forward, (strength * (1.0 - split))[mutual]])
    keep = np.flatnonzero(weight > 0)
    keep = keep[_pair_order(src[keep], dst[keep])]
    return pd.DataFrame({"src": src[keep], "dst": dst[keep], "weight": weight[keep].astype(np.float64)})


def contact_table(edges: pd.DataFrame, n_users: int, ties_per_user: int) -> np.ndarray:
    """``[n_users, ties_per_user]`` counterpart ids by tie strength, strongest first (-1 padded); int32
    while the ids fit (off-network ids up to 2**31 - 1), else int64.

    A tie's strength is the weight in both directions summed; equal strengths are ordered by the
    counterpart id (as in ``zen.traffic.timeline.contact_ranks``). The assembler maps the traffic
    model's "k-th strongest tie" of user ``u`` to ``table[u, k]``.
    """
    src, dst = edges["src"].to_numpy(), edges["dst"].to_numpy()
    w = edges["weight"].to_numpy(np.float64)
    user = np.concatenate([src, dst])
    other = np.concatenate([dst, src])
    weight = np.concatenate([w, w])
    keep = (user >= 0) & (user < n_users) & (user != other)
    user, other, weight = user[keep], other[keep], weight[keep]
    order = _pair_order(user, other)  # sum both directions of a tie
    user, other, weight = user[order], other[order], weight[order]
    start = np.flatnonzero(np.r_[True, (user[1:] != user[:-1]) | (other[1:] != other[:-1])])
    user, other, weight = user[start], other[start], np.add.reduceat(weight, start) if len(start) else weight
    # strongest first, ties by counterpart id (the rows are sorted by user, other): two stable sorts
    order = np.argsort(-weight, kind="stable")
    order = order[np.argsort(user[order], kind="stable")]
    user, other = user[order], other[order]
    first = np.searchsorted(user, user, side="left")
    rank = np.arange(len(user)) - first
    table = np.full((n_users, ties_per_user), -1, dtype=_id_dtype(int(other.max()) if len(other) else 0))
    fits = rank < ties_per_user
    table[user[fits], rank[fits]] = other[fits]
    return table
