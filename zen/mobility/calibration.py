"""Calibration of the mobility parameters from GPS trajectories (e.g. the GeoLife sample).

Steps, all vectorised over points / stays (pandas, numpy, one scikit-learn DBSCAN call):

1. :func:`detect_stays`: points snapped to a grid of ``radius_m`` cells; runs of consecutive points
   in one cell, chained while consecutive run centres are closer than ``radius_m / 2`` (GPS jitter
   across a cell border), become a stay when they last ``min_duration_s`` or more. Stay centres
   are clustered into locations per user (DBSCAN, ``eps = radius_m``).
2. Home and work by night-time / working-hours presence (:func:`zen.mobility.measures.detect_home_work`).
3. Waiting times of stays away from home and work -> ``beta``, ``tau`` (truncated power law MLE).
4. Exploration: every trip to a non-anchor location, where a return was possible, is an
   exploration if the location is new; ``P(explore) = rho * S**-gamma`` is fitted by maximum
   likelihood (the emulator's definition: S counts home and work from the start).
5. Jump lengths: the same truncated power law fitted to trip distances (reported, not used: the
   emulator's jumps follow from the gravity rule over the places it is given).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from zen.geo import LocalProjection
from zen.mobility.measures import HOUR, detect_home_work, jump_lengths
from zen.mobility.params import MobilityParams
from zen.mobility.waiting import fit_waiting_times
from zen.schema import ZenInputError

FITTED = ("beta", "tau_h", "rho", "gamma")


def load_gps(path: str | Path) -> pd.DataFrame:
    """Read GPS points ``lat, lng|lon, datetime, uid`` (CSV, optionally gzip; GeoLife sample layout).

    Returns:
        Frame with ``uid`` (str), ``lat``, ``lon`` (degrees), ``datetime`` (UTC), sorted by uid, time.
    Raises:
        ZenInputError: missing file or column, unparsable values (with the row).
    """
    path = Path(path)
    if not path.exists():
        raise ZenInputError("GPS file not found; check mobility.gps_file", str(path))
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as f:
            points = pd.read_csv(f, dtype={"uid": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ZenInputError(f"cannot read GPS points: {err}", str(path)) from err
    return check_gps(points, str(path))


def check_gps(points: pd.DataFrame, source: str = "points") -> pd.DataFrame:
    """Canonical GPS points table (see :func:`load_gps`) or a :class:`ZenInputError`."""
    points = points.rename(columns={"lng": "lon"})
    for name in ("lat", "lon", "datetime", "uid"):
        if name not in points.columns:
            raise ZenInputError("missing column; GPS points need lat, lng (or lon), datetime, uid", source,
                                column=name)
    out = pd.DataFrame({"uid": points["uid"].astype(str)})
    for name, limit in (("lat", 90), ("lon", 180)):
        values = pd.to_numeric(points[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(np.abs(values) <= limit))
        if len(bad):
            raise ZenInputError(f"invalid coordinate {points[name].iloc[bad[0]]!r}", source,
                                row=int(bad[0]), column=name)
        out[name] = values
    when = pd.to_datetime(points["datetime"], errors="coerce", utc=True)
    bad = np.flatnonzero(when.isna().to_numpy())
    if len(bad):
        raise ZenInputError(f"unparsable time {points['datetime'].iloc[bad[0]]!r}", source, row=int(bad[0]),
                            column="datetime")
    out["datetime"] = when
    return out.sort_values(["uid", "datetime"], kind="stable").reset_index(drop=True)


def detect_stays(points: pd.DataFrame, radius_m: float = 200.0, min_duration_s: float = 1200.0,
                 max_gap_s: float = 600.0,
                 start: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Stays of GPS points (see the module docstring), as a visits table for :mod:`measures`.

    Args:
        points: canonical GPS points (:func:`check_gps`).
        radius_m: spatial threshold in metres (grid cell, location clustering radius).
        min_duration_s: shortest stay in seconds.
        max_gap_s: a stay ends at the next point elsewhere when that point comes within this many
            seconds (the user left then); after a longer gap (logger off) it ends at its last point.
        start: second 0 of ``start_s``; default the UTC midnight before the first point.
    Returns:
        (visits, start): visits with ``user`` (0..n_users-1 in uid order), ``uid``, ``start_s``,
        ``end_s``, ``place`` (location id unique over all users), ``lat``, ``lon``; consecutive stays
        of a user at one location are merged.
    """
    points = check_gps(points)
    start = points["datetime"].min().normalize() if start is None else pd.Timestamp(start)
    projection = LocalProjection(float(points["lat"].median()), float(points["lon"].median()))
    x, y = projection.to_xy(points["lat"].to_numpy(), points["lon"].to_numpy()).T
    t = (points["datetime"] - start).dt.total_seconds().to_numpy()
    user = pd.factorize(points["uid"], sort=True)[0]
    cell = np.floor(x / radius_m).astype(np.int64) * 1_000_003 + np.floor(y / radius_m).astype(np.int64)
    run_start = np.r_[True, (user[1:] != user[:-1]) | (cell[1:] != cell[:-1])]
    run = np.cumsum(run_start) - 1
    runs = pd.DataFrame({"user": user, "x": x, "y": y, "t": t, "run": run}).groupby("run").agg(
        user=("user", "first"), x=("x", "mean"), y=("y", "mean"), t0=("t", "min"), t1=("t", "max"))
    gap = np.hypot(np.diff(runs["x"].to_numpy()), np.diff(runs["y"].to_numpy()))
    new_user = np.diff(runs["user"].to_numpy()) != 0
    next_t0 = np.r_[runs["t0"].to_numpy()[1:], np.inf]
    leaves = np.r_[~new_user, False] & (next_t0 - runs["t1"].to_numpy() <= max_gap_s)
    runs["t1"] = np.where(leaves, next_t0, runs["t1"].to_numpy())  # a stay lasts until the user leaves
    chain = np.cumsum(np.r_[True, new_user | (gap >= radius_m / 2)]) - 1
    runs["chain"] = chain
    n_points = np.bincount(run)
    runs["w"] = n_points
    runs["wx"], runs["wy"] = runs["x"] * n_points, runs["y"] * n_points
    stays = runs.groupby("chain").agg(user=("user", "first"), t0=("t0", "min"), t1=("t1", "max"),
                                      w=("w", "sum"), wx=("wx", "sum"), wy=("wy", "sum"))
    stays = stays[(stays["t1"] - stays["t0"]) >= min_duration_s].reset_index(drop=True)
    sx, sy = (stays["wx"] / stays["w"]).to_numpy(), (stays["wy"] / stays["w"]).to_numpy()
    uids = np.sort(points["uid"].unique())
    if len(stays) == 0:
        empty = pd.DataFrame(columns=["user", "uid", "start_s", "end_s", "place", "lat", "lon"])
        return empty, start
    separated = np.c_[sx + stays["user"].to_numpy() * 1e9, sy]  # users never share a location
    from sklearn.cluster import DBSCAN  # here: scikit-learn (~0.5 s) is for calibration only

    place = DBSCAN(eps=radius_m, min_samples=1).fit_predict(separated)
    lat, lon = projection.to_latlon(np.c_[sx, sy])
    loc = pd.DataFrame({"place": place, "lat": lat, "lon": lon}).groupby("place").mean()
    visits = pd.DataFrame({"user": stays["user"].to_numpy(), "start_s": stays["t0"].to_numpy(),
                           "end_s": stays["t1"].to_numpy(), "place": place})
    head = np.r_[True, (visits["user"].to_numpy()[1:] != visits["user"].to_numpy()[:-1])
                 | (place[1:] != place[:-1])]
    group = np.cumsum(head) - 1
    visits = visits.groupby(group).agg(user=("user", "first"), start_s=("start_s", "min"),
                                       end_s=("end_s", "max"), place=("place", "first"))
    visits["uid"] = uids[visits["user"].to_numpy()]
    visits["lat"] = loc["lat"].reindex(visits["place"]).to_numpy()
    visits["lon"] = loc["lon"].reindex(visits["place"]).to_numpy()
    return visits.reset_index(drop=True)[["user", "uid", "start_s", "end_s", "place", "lat", "lon"]], start


def exploration_trials(visits: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """The free trips of a visits table as Bernoulli trials of exploration.

    A trip is a stay after the user's first one. It is a *free trip* when its place is not the
    user's home or work, and it counts when a return was possible (some non-anchor place other than
    the current one was visited before), as in the emulator.

    Returns:
        Frame with ``S`` (distinct places known before the trip, anchors included) and ``explore``
        (True if the place is new).
    """
    user = visits["user"].to_numpy()
    place = visits["place"].to_numpy()
    home = anchors["home"].reindex(user).to_numpy()
    work = anchors["work"].reindex(user).to_numpy()
    anchor = (place == home) | (place == work)
    first_visit = (~visits.duplicated(["user", "place"])).to_numpy()
    frame = pd.DataFrame({"user": user, "new": first_visit.astype(int),
                          "new_free": (first_visit & ~anchor).astype(int),
                          "home_seen": (place == home).astype(int), "work_seen": (place == work).astype(int)})
    by_user = frame.groupby("user")
    seen = by_user["new"].cumsum() - frame["new"]  # distinct places before this stay
    free_seen = by_user["new_free"].cumsum() - frame["new_free"]
    home_seen = (by_user["home_seen"].cumsum() - frame["home_seen"]) > 0
    work_seen = (by_user["work_seen"].cumsum() - frame["work_seen"]) > 0
    s = seen + (~home_seen) + ((work >= 0) & ~work_seen)
    prev_place = np.r_[-1, place[:-1]]
    prev_free_known = np.r_[False, ~anchor[:-1]]  # the current place is a known non-anchor place
    returnable = free_seen.to_numpy() - prev_free_known.astype(int)
    is_trip = np.r_[False, user[1:] == user[:-1]] & (place != prev_place)
    use = is_trip & ~anchor & (returnable > 0)
    return pd.DataFrame({"S": s.to_numpy()[use], "explore": first_visit[use]})


def fit_exploration(trials: pd.DataFrame) -> tuple[float, float]:
    """Maximum-likelihood (rho, gamma) of ``P(explore | S) = rho * S**-gamma``."""
    if len(trials) < 10:
        raise ValueError(f"need at least 10 free trips to fit exploration, got {len(trials)}")
    log_s = np.log(trials["S"].to_numpy(dtype=np.float64))
    x = trials["explore"].to_numpy(dtype=np.float64)

    def nll(theta: np.ndarray) -> float:
        p = np.clip(np.exp(np.log(theta[0]) - theta[1] * log_s), 1e-9, 1 - 1e-9)
        return -float(np.mean(x * np.log(p) + (1 - x) * np.log1p(-p)))

    best = minimize(nll, x0=np.array([0.6, 0.21]), method="L-BFGS-B", bounds=[(1e-3, 1.0), (0.0, 3.0)])
    return float(best.x[0]), float(best.x[1])


def calibrate_from_gps(points: pd.DataFrame, radius_m: float = 200.0, min_duration_s: float = 1200.0,
                       wait_min_h: float | None = None, wait_max_h: float = 24.0,
                       base: MobilityParams | None = None, fit: tuple[str, ...] = FITTED,
                       utc_offset_h: float = 0.0) -> tuple[MobilityParams, dict]:
    """Fit the EPR parameters to GPS trajectories.

    Args:
        points: GPS points with ``lat, lng|lon, datetime, uid``.
        radius_m, min_duration_s: stay-detection thresholds (metres, seconds).
        wait_min_h, wait_max_h: waiting times used in the fit (hours); the shortest defaults to
            ``min_duration_s`` (shorter stays are not detected, so the law is truncated there).
        base: parameters the fitted ones replace (literature defaults when None).
        fit: which of ``beta, tau_h, rho, gamma`` to take from the fit.
        utc_offset_h: local time minus UTC of the trajectories (hours; GeoLife/Beijing: 8), so that
            night and working hours are local, as in the emulator's diary.
    Returns:
        (params, report): the parameters and a dict of fitted values, counts and thresholds.
    """
    base = base or MobilityParams()
    points = check_gps(points)
    points["datetime"] = points["datetime"] + pd.Timedelta(hours=utc_offset_h)
    visits, start = detect_stays(points, radius_m, min_duration_s)
    if len(visits) < 20:
        raise ZenInputError(f"only {len(visits)} stays detected; need more GPS data or lower thresholds",
                            "calibrate_from_gps")
    anchors = detect_home_work(visits, start)
    home = anchors["home"].reindex(visits["user"]).to_numpy()
    work = anchors["work"].reindex(visits["user"]).to_numpy()
    free = (visits["place"].to_numpy() != home) & (visits["place"].to_numpy() != work)
    waits = (visits["end_s"] - visits["start_s"]).to_numpy()[free]
    wait_lo_s = min_duration_s if wait_min_h is None else wait_min_h * HOUR
    beta, tau_s = fit_waiting_times(waits, wait_lo_s, wait_max_h * HOUR)
    trials = exploration_trials(visits, anchors)
    rho, gamma = fit_exploration(trials)
    jumps = jump_lengths(visits)
    jump_beta, jump_cutoff_m = fit_waiting_times(jumps, radius_m, float(max(jumps.max(), 2 * radius_m)))
    fitted = {"beta": beta, "tau_h": tau_s / HOUR, "rho": rho, "gamma": gamma}
    values = base.to_dict() | {k: fitted[k] for k in fit}
    if {"beta", "tau_h"} & set(fit):
        values["wait_min_h"], values["wait_max_h"] = wait_lo_s / HOUR, wait_max_h
    report = {
        "fitted": fitted, "literature": {k: getattr(MobilityParams(), k) for k in FITTED},
        "jump_length_exponent": 1 + jump_beta, "jump_length_cutoff_km": jump_cutoff_m / 1000,
        "users": int(visits["user"].nunique()), "points": int(len(points)), "stays": int(len(visits)),
        "locations": int(visits["place"].nunique()), "free_stays": int(free.sum()),
        "exploration_trials": int(len(trials)), "radius_m": radius_m, "min_duration_s": min_duration_s,
        "utc_offset_h": utc_offset_h,
    }
    return MobilityParams.from_dict(values), report


def calibrate(cfg_mobility: dict, shared_data: str | Path) -> MobilityParams:
    """The train stage's entry: literature defaults (plus ``params`` overrides) or a GPS calibration.

    Args:
        cfg_mobility: the ``mobility`` config group as a dict (``configs/mobility/default.yaml``).
        shared_data: folder that ``gps_file`` is relative to.
    """
    base = MobilityParams.from_dict(dict(cfg_mobility.get("params") or {}), source="mobility.params")
    if cfg_mobility.get("calibrate", False) in (False, "auto"):  # auto: cells only (cdr_calibration)
        return base
    detection = dict(cfg_mobility.get("stay_detection") or {})
    points = load_gps(Path(shared_data) / cfg_mobility["gps_file"])
    params, _ = calibrate_from_gps(points, radius_m=float(detection.get("radius_m", 200.0)),
                                   min_duration_s=float(detection.get("min_duration_s", 1200.0)),
                                   base=base, fit=tuple(cfg_mobility.get("fit", FITTED)),
                                   utc_offset_h=float(cfg_mobility.get("utc_offset_h", 0.0)))
    return params
