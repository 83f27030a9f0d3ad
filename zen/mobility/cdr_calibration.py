"""Calibrating the mobility emulator on what an operator has: each user's cells at event times.

A CDR sees a user only at their events, and only through the serving cell. Stay detection on
such sparse, jittery sequences is biased (a phone at home hops between the cells around it; a
trip between two events is invisible), so the fit compares *like with like*: the emulator is run
for as many users as there are training users, each simulated user is observed at the event times
of one training user (the real sampling process), and the parameters are those whose observed
cell sequences have the same summary statistics as the real ones (the method of simulated
moments, with common random numbers so the objective is smooth in the parameters):

* radius of gyration per user (quantiles of its log), distinct cells per user and per week,
  share of events at the top cell, cell entropy — exploration vs return (``rho``), serving jitter;
* jump lengths between consecutive events (quantiles of their log) and the share of consecutive
  events in different cells — the gravity exponent over the real places, the serving radius;
* the share of events away from the home cell in four bands of the day — the diary;
* how long users are seen in one cell (median of runs of consecutive events) — dwell times;
* with ``explore_activity`` fitted (activity-dependent mobility, ``k``): the slopes over users of
  log distinct cells and of log radius of gyration on log events per user (:func:`activity_moments`)
  — each simulated user has the events per day of the real user whose times it is seen at.

Each statistic is scaled by its bootstrap standard deviation over training users, so the loss
weighs them by how well the data pins them. The uncertainty of the fitted parameters is the
sandwich formula of simulated moments, ``(J'WJ)^-1 J'W Σ W J (J'WJ)^-1 (1 + 1/R)`` with ``J`` the
numerical Jacobian of the moments at the optimum, ``Σ`` their bootstrap covariance and ``R = 1``
simulated population per real one.

With ``activity=True`` the serving process is the activity-aware one (:mod:`zen.mobility.serving`):
its table ``keep[gap bin, burst bin]`` is *profiled out* at every evaluation rather than searched.
For the stays of the current parameters, the share of consecutive events in another cell in each
bin is linear in that bin's ``keep``, so two observations of the same stays (``keep`` 0 and 1) give
the ``keep`` whose share equals the real training users' share in the bin (clipped to [0, 1]); the
other parameters are then fitted as above on the sequences seen with that table.
With ``handover=True`` too, the neighbour a serving change goes to follows a handover distance law
(:class:`HandoverLaw`) fitted on the real pairs inside bursts, refitted at every evaluation (it
depends on ``serving_radius_m``) and saved inside ``serving_activity`` as ``handover``.
:func:`calibrate_mobility` is the train stage's entry point:
``mobility.calibrate`` false (literature defaults), true or auto (cells when the data has cells with
coordinates, else the GPS route of :mod:`zen.mobility.calibration`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from zen.geo import LocalProjection, haversine_m
from zen.measures.mobility import (
    away_share_by_hour,
    cell_coordinates,
    cell_entropy,
    distinct_cells_per_week,
    dwell_times_s,
    has_cells,
    jump_lengths_m,
    radius_of_gyration,
    top_cell_share,
)
from zen.mobility.calibration import FITTED as GPS_FITTED
from zen.mobility.calibration import calibrate_from_gps, load_gps
from zen.mobility.emulator import MobilityEmulator, choose_anchors
from zen.mobility.params import MobilityParams
from zen.mobility.serving import BURST_EDGES_S, GAP_EDGES_S, pair_bins
from zen.schema import ZenInputError

log = logging.getLogger("zen.mobility")

#: parameters fitted on cell sequences by default, and the box they are searched in
CELL_FITTED = ("rho", "gravity_exponent", "tau_h", "offday_home_prob", "serving_dwell_h",
               "serving_main_prob", "serving_radius_m")
BOUNDS = {"rho": (0.02, 1.0), "gamma": (0.0, 1.5), "gravity_exponent": (0.5, 3.5), "tau_h": (0.3, 48.0),
          "beta": (0.1, 2.0), "offday_home_prob": (0.0, 0.95), "work_share": (0.05, 0.99),
          "evening_prob": (0.0, 1.0), "serving_dwell_h": (0.01, 6.0), "serving_main_prob": (0.0, 0.99),
          "serving_radius_m": (200.0, 6000.0), "serving_neighbours": (2.0, 64.0),
          "explore_activity": (-1.0, 2.0)}
#: the same without the exponential serving law's dwell, which the activity-aware table replaces
CELL_FITTED_ACTIVITY = tuple(n for n in CELL_FITTED if n != "serving_dwell_h")
START = {"serving_dwell_h": 0.5}  # where the search starts for a switched-off default (0)
LOG_SCALE = {"gravity_exponent", "tau_h", "serving_dwell_h", "serving_radius_m", "serving_neighbours"}
INTEGER = {"serving_neighbours"}  # searched on a continuous scale, rounded
BANDS = ((0, 6), (6, 12), (12, 18), (18, 24))


class CellEvents:
    """Located events: ``user`` (0..U-1), ``t_s`` since the start, ``hour``, ``cell``, ``lat``, ``lon``."""

    def __init__(self, user, t_s, hour, cell, lat, lon):
        self.user, self.t_s, self.hour = np.asarray(user), np.asarray(t_s, float), np.asarray(hour)
        self.cell, self.lat, self.lon = np.asarray(cell), np.asarray(lat, float), np.asarray(lon, float)

    @classmethod
    def from_records(cls, records: pd.DataFrame, antennas: pd.DataFrame, start: pd.Timestamp) -> CellEvents:
        ev = cell_coordinates(records, antennas).sort_values(["user_id", "timestamp"], kind="stable")
        user = pd.factorize(ev["user_id"], sort=True)[0]
        t_s = (ev["timestamp"] - start).dt.total_seconds().to_numpy()
        return cls(user, t_s, ev["timestamp"].dt.hour.to_numpy(),
                   ev["cell_id"].to_numpy(), ev["lat"].to_numpy(), ev["lon"].to_numpy())

    def take_users(self, users: np.ndarray) -> CellEvents:
        """The events of ``users`` (with repeats, as in a bootstrap), renumbered 0..len(users)-1."""
        starts = np.searchsorted(self.user, users, side="left")
        ends = np.searchsorted(self.user, users, side="right")
        idx = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
        new_user = np.repeat(np.arange(len(users)), ends - starts)
        return CellEvents(new_user, self.t_s[idx], self.hour[idx], self.cell[idx], self.lat[idx],
                          self.lon[idx])


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` (0 when ``x`` does not vary)."""
    x = x - x.mean()
    den = float(x @ x)
    return float(x @ (y - y.mean()) / den) if den > 0 else 0.0


def activity_moments(ev: CellEvents) -> np.ndarray:
    """How exploration grows with activity: slopes over users of log distinct cells and of log
    (radius of gyration + 100 m) on log events. ``[2]`` (what identifies ``explore_activity``)."""
    n = np.bincount(ev.user).astype(float)
    seen = n > 0
    log_n = np.log(n[seen])
    distinct = pd.Series(ev.cell).groupby(ev.user).nunique().to_numpy(float)
    rg = radius_of_gyration(ev.user, ev.lat, ev.lon).to_numpy()
    return np.array([_slope(log_n, np.log(distinct)), _slope(log_n, np.log(rg + 100.0))])


def events_per_day(ev: CellEvents, days: float) -> np.ndarray:
    """``[users]`` each user's events per day of the window (the activity of ``explore_activity``)."""
    return np.bincount(ev.user, minlength=int(ev.user.max()) + 1) / float(days)


def cell_moments(ev: CellEvents) -> np.ndarray:
    """The summary statistics the fit matches (see the module docstring). ``[moments]``."""
    rg = radius_of_gyration(ev.user, ev.lat, ev.lon).to_numpy()
    distinct = pd.Series(ev.cell).groupby(ev.user).nunique().to_numpy(float)
    top = top_cell_share(ev.user, ev.cell).to_numpy()
    entropy = cell_entropy(ev.user, ev.cell).to_numpy()
    jumps = jump_lengths_m(ev.user, ev.lat, ev.lon)
    same_user = ev.user[1:] == ev.user[:-1]
    changed = (ev.cell[1:] != ev.cell[:-1])[same_user].mean()
    away = away_share_by_hour(ev.user, ev.hour, ev.cell)
    n_hour = np.bincount(ev.hour, minlength=24)
    bands = [np.nansum(away[a:b] * n_hour[a:b]) / max(n_hour[a:b].sum(), 1) for a, b in BANDS]
    dwell = dwell_times_s(ev.user, ev.t_s, ev.cell)
    week = distinct_cells_per_week(ev.user, ev.t_s, ev.cell).to_numpy()
    q = np.quantile
    return np.r_[q(np.log(rg + 100.0), [0.25, 0.5, 0.75, 0.9]), q(np.log(distinct), [0.25, 0.5, 0.75]),
                 q(top, [0.25, 0.5, 0.75]), q(entropy, [0.25, 0.5, 0.75]),
                 q(np.log(jumps), [0.1, 0.25, 0.5, 0.75, 0.9]) if len(jumps) else np.zeros(5),
                 changed, bands,
                 np.log(np.median(dwell) + 60.0) if len(dwell) else 0.0, np.log(np.median(week))]


class CellSimulator:
    """The emulator on ``places``, observed at the event times of real users (``ev``)."""

    def __init__(self, ev: CellEvents, places: pd.DataFrame, start: pd.Timestamp, days: float, seed: int):
        self.ev, self.places, self.start, self.days, self.seed = ev, places, start, days, seed
        self.n_users = int(ev.user.max()) + 1
        self.cell_of = places["cell_id"].to_numpy()
        self.lat, self.lon = places["lat"].to_numpy(), places["lon"].to_numpy()
        self.activity = events_per_day(ev, days)  # simulated user i has real user i's activity

    def observe(self, params: MobilityParams, seed: int | None = None) -> CellEvents:
        return self.observe_stays(self.simulate(params, seed))

    def simulate(self, params: MobilityParams, seed: int | None = None):
        """The emulator's stays (:class:`zen.mobility.Stays`) for as many users as ``ev`` has."""
        seed = self.seed if seed is None else seed
        home, work = choose_anchors(self.places, self.n_users, params, np.random.default_rng(seed))
        return MobilityEmulator(params).simulate(self.places, home, work, self.days, self.start, seed,
                                                 activity=self.activity)

    def observe_stays(self, stays) -> CellEvents:
        """``stays`` seen at the real users' event times (through their serving process, if any)."""
        place = stays.locate(self.ev.user, self.ev.t_s)
        ok = place >= 0
        place = np.where(ok, place, 0)
        return CellEvents(self.ev.user[ok], self.ev.t_s[ok], self.ev.hour[ok], self.cell_of[place][ok],
                          self.lat[place][ok], self.lon[place][ok])


def _to_unit(name: str, value: float) -> float:
    lo, hi = BOUNDS[name]
    if name in LOG_SCALE:
        lo, hi, value = math.log(lo), math.log(hi), math.log(value)
    u = min(max((value - lo) / (hi - lo), 1e-4), 1 - 1e-4)
    return math.log(u / (1 - u))  # logit of the position in the box


def _from_unit(name: str, z: float) -> float:
    lo, hi = BOUNDS[name]
    u = 1.0 / (1.0 + math.exp(-z))
    if name in LOG_SCALE:
        return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    return lo + u * (hi - lo)


def fit_cell_sequences(ev: CellEvents, places: pd.DataFrame, start: pd.Timestamp, days: float,
                       base: MobilityParams | None = None, fit: tuple[str, ...] = CELL_FITTED,
                       seed: int = 0, max_evals: int = 80, n_boot: int = 100,
                       activity: bool = False, handover: bool = False) -> tuple[MobilityParams, dict]:
    """Fit ``fit`` so that the emulator's cell sequences, seen at the real event times, match ``ev``.

    Args:
        ev: the training users' located events.
        places: the places the emulator moves between (their ``cell_id`` is what is observed).
        start, days: the window of ``ev`` (second 0 and length); sets the diary's weekdays.
        base: parameters not fitted (and the starting point); literature defaults when None.
        fit: names of :class:`MobilityParams` fields to fit (each needs a box in :data:`BOUNDS`).
        seed: common random numbers of every simulation.
        max_evals: simulations the Nelder-Mead search may use.
        n_boot: bootstrap resamples of the users for the moments' covariance.
        activity: fit the activity-aware serving law too (its table profiled out, see the module
            docstring); ``serving_dwell_h``, which it replaces, may not be in ``fit`` then.
        handover: with ``activity``, fit the handover distance law too (:class:`HandoverLaw`).
        ``explore_activity`` in ``fit``: activity-dependent mobility; its reference
        (``activity_reference``) is the training users' median events per day and the moments
        gain :func:`activity_moments` (without it in ``fit`` the moments are as before).
    Returns:
        (params, report): the fitted parameters and a dict with the fitted values, their standard
        errors, the loss at the start and the end, and the real and simulated moments (and with
        ``activity``, the table, its standard errors and the change shares per bin).
    """
    base = base or MobilityParams()
    unknown = [n for n in fit if n not in BOUNDS]
    if unknown:
        raise ZenInputError(f"cannot fit {unknown} on cell sequences; choose from {sorted(BOUNDS)}",
                            "mobility.cells.fit", column=unknown[0])
    if activity and "serving_dwell_h" in fit:
        raise ZenInputError("serving_dwell_h is replaced by the activity-aware serving table; drop it from "
                            "mobility.cells.fit or set mobility.cells.activity=false", "mobility.cells.fit",
                            column="serving_dwell_h")
    explore = "explore_activity" in fit
    if explore:
        base = dataclasses.replace(base, activity_reference=float(np.median(events_per_day(ev, days))))

    def all_moments(e: CellEvents) -> np.ndarray:
        return np.r_[cell_moments(e), activity_moments(e)] if explore else cell_moments(e)

    real = all_moments(ev)
    rng = np.random.default_rng(seed)
    n_users = int(ev.user.max()) + 1
    boot = np.array([all_moments(ev.take_users(rng.integers(0, n_users, n_users))) for _ in range(n_boot)])
    cov = np.cov(boot, rowvar=False)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-6))
    sim = CellSimulator(ev, places, start, days, seed)
    profile = ServingProfile(ev) if activity else None
    if handover and not activity:
        raise ZenInputError("the handover distance law needs the activity-aware serving law; set "
                            "mobility.cells.activity=true", "mobility.cells.handover")
    law = HandoverLaw(ev, places) if handover else None

    def params_at(z: np.ndarray) -> MobilityParams:
        values = base.to_dict() | {n: _from_unit(n, float(v)) for n, v in zip(fit, z, strict=True)}
        values |= {n: round(values[n]) for n in INTEGER & set(fit)}
        if profile is not None:
            if law is not None:  # the handover law first: the keep profile is read with it
                values["serving_activity"] = profile.table(np.zeros(profile.n_bins)) | {
                    "handover": law.fit(values["serving_radius_m"])}
            table = profile.table(profile.keep_of(sim, MobilityParams.from_dict(values)))
            if law is not None:
                table["handover"] = values["serving_activity"]["handover"]
            values["serving_activity"] = table
        return MobilityParams.from_dict(values)

    def moments_at(z: np.ndarray) -> np.ndarray:
        return all_moments(sim.observe(params_at(z)))

    def loss(z: np.ndarray) -> float:
        return float(np.sum(((moments_at(z) - real) / sd) ** 2))

    z0 = np.array([_to_unit(n, getattr(base, n) or START.get(n, 0.0)) for n in fit])
    start_loss = loss(z0)
    best = minimize(loss, z0, method="Nelder-Mead",
                    options={"maxfev": max_evals, "xatol": 0.05, "fatol": 0.05, "initial_simplex":
                             np.vstack([z0, z0 + 1.0 * np.eye(len(fit))])})
    fitted = params_at(best.x)
    se = _standard_errors(best.x, fit, moments_at, cov, sd)
    report = {
        "source": "cells", "fitted": {n: getattr(fitted, n) for n in fit}, "standard_error": se,
        "literature": {n: getattr(MobilityParams(), n) for n in fit},
        "loss_start": start_loss, "loss_fitted": float(best.fun), "evaluations": int(best.nfev),
        "moments_real": real.tolist(), "moments_fitted": moments_at(best.x).tolist(),
        "moments_sd": sd.tolist(), "users": n_users, "events": int(len(ev.user)), "days": days,
        "places": int(len(places)), "seed": seed,
    }
    if explore:
        report["activity_reference"] = fitted.activity_reference
    if profile is not None:
        fitted_ev = sim.observe(fitted)
        report["serving_activity"] = fitted.serving_activity | {
            "keep_se": _json_list(profile.keep_se(sim, fitted)), "pairs": profile.pairs.tolist(),
            "change_real": _json_list(profile.change_real),
            "change_fitted": _json_list(change_by_bin(fitted_ev, profile.n_bins)[0])}
        if law is not None:
            report["serving_activity"]["handover_median_m"] = {
                "real": law.median_m, "fitted": float(np.median(burst_hops_m(fitted_ev)[0]))}
    log.info("mobility fitted on cell sequences of %d users: loss %.1f -> %.1f (%d simulations)", n_users,
             start_loss, best.fun, best.nfev)
    return fitted, report


def change_by_bin(ev: CellEvents, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Share of consecutive events of a user in another cell, and the number of pairs, per
    :func:`~zen.mobility.serving.pair_bins` bin (default edges). ``[n_bins]`` each."""
    bins = pair_bins(ev.user, ev.t_s)
    ok = bins >= 0
    changed = np.r_[False, ev.cell[1:] != ev.cell[:-1]][ok]
    n = np.bincount(bins[ok], minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore"):
        return np.bincount(bins[ok], weights=changed, minlength=n_bins) / n, n


#: pairs whose hops the handover law is fitted on: gap < 5 min and another event within 5 min
#: (:func:`~zen.mobility.serving.pair_bins` bins 0 and 3), where nearly all real pairs are in one stay
BURST_BINS = (0, len(BURST_EDGES_S) + 1)
#: distance bins of the handover law (metres): its resolution, not a fitted value
HANDOVER_EDGES_M = (0.0, *np.geomspace(150.0, 8000.0, 12).round().tolist())
HANDOVER_CANDIDATES = 32  # nearest places a change may go to (within serving_radius_m)


def burst_hops_m(ev: CellEvents) -> tuple[np.ndarray, np.ndarray]:
    """Distances (m) of the cell changes between consecutive events inside bursts
    (:data:`BURST_BINS`), other sites only, and the index of each pair's first event. ``[hops]`` each."""
    bins = pair_bins(ev.user, ev.t_s)
    d = np.r_[0.0, haversine_m(ev.lat[:-1], ev.lon[:-1], ev.lat[1:], ev.lon[1:])]
    hop = np.flatnonzero(np.isin(bins, BURST_BINS) & (d > 1.0))
    return d[hop], hop - 1


class HandoverLaw:
    """The handover distance law fitted on the real hops inside bursts.

    A change goes to a candidate (the :data:`HANDOVER_CANDIDATES` nearest places within the serving
    radius) with weight ``w[distance bin]``. Around the places the real hops start from, the
    candidates' distances have histogram ``c``; the real hops' histogram is ``h``; ``w = h / c``
    makes the draws' distances follow ``h`` (the importance weight; 0 where no candidate is). The
    hops start at the serving place, not always the stay's own, and some are trips: the law is the
    one of the observed hops, which is what the fit matches.
    """

    def __init__(self, ev: CellEvents, places: pd.DataFrame, edges_m=HANDOVER_EDGES_M,
                 k: int = HANDOVER_CANDIDATES):
        from scipy.spatial import cKDTree

        self.edges, self.k = np.asarray(edges_m, float), int(k)
        lat, lon = places["lat"].to_numpy(float), places["lon"].to_numpy(float)
        proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
        self.tree = cKDTree(proj.to_xy(lat, lon))
        hops, first = burst_hops_m(ev)
        self.real = np.histogram(hops, self.edges)[0].astype(float)
        self.median_m = float(np.median(hops)) if len(hops) else float("nan")
        self.origins = proj.to_xy(ev.lat[first], ev.lon[first])  # [hops, 2]
        self._cache: dict[float, dict] = {}

    def candidates(self, radius_m: float) -> np.ndarray:
        """``[bins]`` histogram of the candidates' distances around the hops' origins."""
        dist = self.tree.query(self.origins, k=self.k + 1, distance_upper_bound=radius_m, workers=1)[0]
        dist = np.asarray(dist).reshape(len(self.origins), -1)[:, 1:]  # column 0: the place itself
        return np.histogram(dist[np.isfinite(dist)], self.edges)[0].astype(float)

    def fit(self, radius_m: float) -> dict:
        """The law for candidates within ``radius_m``: ``{"edges_m", "weight", "neighbours"}``."""
        if radius_m not in self._cache:
            cand = self.candidates(radius_m)
            w = np.where(cand > 0, self.real / np.maximum(cand, 1.0), 0.0)
            w = w / w.max() if w.max() > 0 else np.where(cand > 0, 1.0, 0.0)
            self._cache[radius_m] = {"edges_m": self.edges.tolist(), "weight": w.tolist(),
                                     "neighbours": self.k}
        return self._cache[radius_m]


class ServingProfile:
    """The activity-aware table profiled out for given stays (see the module docstring)."""

    def __init__(self, ev: CellEvents):
        self.n_bins = (len(GAP_EDGES_S) + 1) * (len(BURST_EDGES_S) + 1)
        self.change_real, self.pairs = change_by_bin(ev, self.n_bins)

    def table(self, keep: np.ndarray) -> dict:
        shape = (len(GAP_EDGES_S) + 1, len(BURST_EDGES_S) + 1)
        return {"gap_edges_s": list(GAP_EDGES_S), "burst_edges_s": list(BURST_EDGES_S),
                "keep": np.asarray(keep).reshape(shape).tolist()}

    def _ends(self, sim: CellSimulator, params: MobilityParams) -> tuple[np.ndarray, np.ndarray]:
        """Change shares per bin of the same stays seen with keep 0 and keep 1 everywhere."""
        law = (params.serving_activity or {}).get("handover")
        zeros = self.table(np.zeros(self.n_bins)) | ({"handover": law} if law else {})
        stays = sim.simulate(dataclasses.replace(params, serving_activity=zeros))
        out = []
        for k in (0.0, 1.0):
            stays.serving = dataclasses.replace(stays.serving, keep=np.full(stays.serving.keep.shape, k))
            out.append(change_by_bin(sim.observe_stays(stays), self.n_bins)[0])
        return out[0], out[1]

    def keep_of(self, sim: CellSimulator, params: MobilityParams) -> np.ndarray:
        """``[n_bins]`` the keep probability that matches the real change share of each bin."""
        c0, c1 = self._ends(sim, params)
        span = c0 - c1
        ok = np.isfinite(span) & (span > 1e-9) & (self.pairs > 0)
        weight = np.where(ok, self.pairs, 0.0)  # bins no same-stay pair reaches: the pooled value
        pooled = 1.0 - np.nansum((self.change_real - c1) * weight) / max(np.nansum(span * weight), 1e-9)
        keep = np.where(ok, 1.0 - (self.change_real - c1) / np.where(ok, span, 1.0), pooled)
        return np.clip(keep, 0.0, 1.0)

    def keep_se(self, sim: CellSimulator, params: MobilityParams) -> np.ndarray:
        """``[n_bins]`` binomial standard error of the real change share, carried to ``keep``."""
        c0, c1 = self._ends(sim, params)
        c = np.nan_to_num(self.change_real)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(c * (1 - c) / np.maximum(self.pairs, 1)) / np.abs(c0 - c1)


def _json_list(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def _standard_errors(z: np.ndarray, fit: tuple[str, ...], moments_at, cov: np.ndarray,
                     sd: np.ndarray, step: float = 0.25) -> dict[str, float | None]:
    """Sandwich standard errors of simulated moments, in the parameters' own units (None: unidentified)."""
    cols = []
    for k in range(len(z)):
        dz = np.zeros(len(z))
        dz[k] = step
        cols.append((moments_at(z + dz) - moments_at(z - dz)) / (2 * step))
    jac = np.array(cols).T  # [moments, params], per unit of z
    w = np.diag(1.0 / sd**2)
    bread = jac.T @ w @ jac
    try:
        inv = np.linalg.inv(bread)
    except np.linalg.LinAlgError:
        return {n: None for n in fit}
    var_z = np.diag(inv @ jac.T @ w @ cov @ w @ jac @ inv) * 2.0  # (1 + 1/R), R = 1
    out = {}
    for k, name in enumerate(fit):
        hi, lo = _from_unit(name, z[k] + step), _from_unit(name, z[k] - step)
        slope = (hi - lo) / (2 * step)  # delta method back to the parameter's unit
        value = float(abs(slope) * math.sqrt(var_z[k])) if var_z[k] >= 0 else None
        out[name] = value if value is not None and math.isfinite(value) else None
    return out


def calibrate_mobility(cfg_mobility: dict, shared_data: str | Path, data=None, split=None,
                       seed: int = 0) -> tuple[MobilityParams, dict | None]:
    """The train stage's entry: literature defaults, a GPS calibration or a cell-sequence one.

    ``mobility.calibrate``: false = defaults (plus ``params``); true or auto = fit, from the
    source ``mobility.source``: ``cells`` (the training users' cells, needs cells with
    coordinates), ``gps`` (``gps_file``) or ``auto`` (cells when the data has them, else GPS).
    ``calibrate: auto`` fits only when the data has cells (GPS stays opt-in).

    Returns:
        (params, report): the report is None for the defaults.
    """
    base = MobilityParams.from_dict(dict(cfg_mobility.get("params") or {}), source="mobility.params")
    mode = cfg_mobility.get("calibrate", False)
    with_cells = data is not None and data.antennas is not None and has_cells(data.records, data.antennas)
    if mode is False or mode in ("false", "off") or (mode == "auto" and not with_cells):
        return base, None
    source = cfg_mobility.get("source", "auto")
    source = ("cells" if with_cells else "gps") if source == "auto" else source
    if source == "gps":
        detection = dict(cfg_mobility.get("stay_detection") or {})
        params, report = calibrate_from_gps(
            load_gps(Path(shared_data) / cfg_mobility["gps_file"]),
            radius_m=float(detection.get("radius_m", 200.0)),
            min_duration_s=float(detection.get("min_duration_s", 1200.0)), base=base,
            fit=tuple(cfg_mobility.get("fit", GPS_FITTED)),
            utc_offset_h=float(cfg_mobility.get("utc_offset_h", 0.0)))
        return params, {"source": "gps", **report}
    if source != "cells":
        raise ZenInputError(f"mobility.source must be auto, cells or gps, not {source!r}",
                            "mobility.source")
    if not with_cells:
        raise ZenInputError("mobility.source=cells needs data with cell_id and an antennas table with "
                            "lat/lon (data.loader.cells)", "mobility.source")
    from zen.network.coverage import Coverage
    from zen.network.places import site_places

    cells_cfg = dict(cfg_mobility.get("cells") or {})
    train = data.subset(split.train) if split is not None else data
    ev = CellEvents.from_records(train.records, data.antennas, data.start)
    places = site_places(Coverage(data.antennas))
    fit = tuple(cells_cfg.get("fit", CELL_FITTED))
    if cells_cfg.get("explore_activity", False) and "explore_activity" not in fit:
        fit = (*fit, "explore_activity")  # activity-dependent mobility (mobility.cells.explore_activity)
    return fit_cell_sequences(ev, places, data.start, data.days, base, fit,
                              seed=int(cells_cfg.get("seed", seed)),
                              max_evals=int(cells_cfg.get("max_evals", 80)),
                              n_boot=int(cells_cfg.get("n_boot", 100)),
                              activity=bool(cells_cfg.get("activity", False)),
                              handover=bool(cells_cfg.get("handover", False)))
