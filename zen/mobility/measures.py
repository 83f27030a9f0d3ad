"""Individual mobility measures with their literature names, vectorised over users (pandas/numpy).

All take a *visits* table: one row per stay, sorted by (user, start_s), with columns ``user``,
``start_s``, ``end_s`` (seconds since ``start``, the timestamp of second 0), ``place`` (a location
id, unique within a user at least), ``lat``, ``lon`` (degrees). :func:`visits_from_stays` builds it
from emulator output; :func:`zen.mobility.calibration.detect_stays` from GPS points.

The radius of gyration is :func:`zen.measures.mobility.radius_of_gyration` (with
``weights=end_s - start_s`` to weight stays by time). References: S(t), visitation frequency,
jump lengths and waiting times (Song et al., Nature Physics 6, 2010); home/work detection by the
most-visited place at night / in working hours (e.g. Pappalardo et al. 2015).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.mobility.stays import Stays

DAY = 86400.0
HOUR = 3600.0
NIGHT_HOURS = ((0.0, 6.0), (22.0, 24.0))  # "night" for home detection and the night home share
WORK_HOURS = ((9.0, 17.0),)  # weekday working hours for work detection


def visits_from_stays(stays: Stays, places: pd.DataFrame) -> pd.DataFrame:
    """The visits table of emulator stays (``place`` = row index into ``places``)."""
    return pd.DataFrame({
        "user": stays.user, "start_s": stays.start_s, "end_s": stays.end_s, "place": stays.place,
        "lat": places["lat"].to_numpy()[stays.place], "lon": places["lon"].to_numpy()[stays.place],
    })


def number_of_locations(visits: pd.DataFrame) -> pd.Series:
    """Distinct places visited per user over the whole period (S at the end)."""
    return visits.groupby("user")["place"].nunique().rename("number_of_locations")


def locations_over_time(visits: pd.DataFrame, step_s: float = DAY) -> pd.DataFrame:
    """S(t): mean number of distinct places visited by time t, averaged over users.

    Returns:
        Frame with columns ``t_s`` (ends of steps of ``step_s`` seconds) and ``mean_locations``.
    """
    first = visits.groupby(["user", "place"])["start_s"].min()
    end = visits["end_s"].max()
    edges = np.arange(step_s, end + step_s, step_s)
    counts = np.histogram(first.to_numpy(), bins=np.r_[-np.inf, edges])[0]
    n_users = visits["user"].nunique()
    return pd.DataFrame({"t_s": edges, "mean_locations": np.cumsum(counts) / max(n_users, 1)})


def visitation_frequency_rank(visits: pd.DataFrame, ranks: int = 30) -> pd.Series:
    """Mean visitation frequency f_k of each user's k-th most visited place (Zipf's law, ~ k**-1.2).

    Frequencies are visit counts over the user's total; the mean at rank k is over users with at
    least k places. Returns a Series indexed by rank 1..ranks (NaN where no user has that many).
    """
    counts = visits.groupby(["user", "place"]).size().rename("n").reset_index()
    counts = counts.sort_values(["user", "n"], ascending=[True, False], kind="stable")
    counts["rank"] = counts.groupby("user").cumcount() + 1
    counts["f"] = counts["n"] / counts.groupby("user")["n"].transform("sum")
    mean = counts[counts["rank"] <= ranks].groupby("rank")["f"].mean()
    return mean.reindex(range(1, ranks + 1)).rename("visitation_frequency")


def jump_lengths(visits: pd.DataFrame) -> np.ndarray:
    """Distances in metres between consecutive stays of each user (moves of 0 m dropped). ``[jumps]``.

    The same measure as between consecutive events (:func:`zen.evaluation.mobility.jump_lengths_m`).
    """
    from zen.measures.mobility import jump_lengths_m

    return jump_lengths_m(visits["user"].to_numpy(), visits["lat"].to_numpy(), visits["lon"].to_numpy())


def waiting_times(visits: pd.DataFrame) -> np.ndarray:
    """Stay durations in seconds. ``[stays]``."""
    return (visits["end_s"] - visits["start_s"]).to_numpy()


def power_law_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y on log x (the exponent of y ~ x**slope); NaN/<=0 points ignored."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def _window_seconds_since_midnight(t: np.ndarray, weekday0: int, hours: tuple[tuple[float, float], ...],
                                   weekdays_only: bool) -> np.ndarray:
    """Seconds of the daily windows ``hours`` between the first midnight and ``t`` (seconds after it)."""
    day = np.floor(t / DAY)
    within = t - day * DAY
    if weekdays_only:
        per_week = np.array([(weekday0 + k) % 7 < 5 for k in range(7)], dtype=np.float64)
        before = np.r_[0.0, np.cumsum(per_week)]
        rest = (day % 7).astype(int)
        full_days, today = (day // 7) * 5 + before[rest], per_week[rest]
    else:
        full_days, today = day, np.ones_like(day)
    total = np.zeros_like(t)
    for a, b in hours:
        total += full_days * (b - a) * HOUR + today * np.clip(within - a * HOUR, 0.0, (b - a) * HOUR)
    return total


def _window_seconds_before(t_s: np.ndarray, start: pd.Timestamp, hours: tuple[tuple[float, float], ...],
                           weekdays_only: bool) -> np.ndarray:
    """Seconds of the daily windows ``hours`` (UTC) between ``start`` and ``start + t_s``. ``[n]``."""
    start = pd.Timestamp(start)
    offset = (start - start.normalize()).total_seconds()
    t = np.asarray(t_s, dtype=np.float64) + offset
    return (_window_seconds_since_midnight(t, start.day_of_week, hours, weekdays_only)
            - _window_seconds_since_midnight(np.array([offset]), start.day_of_week, hours, weekdays_only))


def time_in_windows(visits: pd.DataFrame, start: pd.Timestamp,
                    hours: tuple[tuple[float, float], ...], weekdays_only: bool = False) -> np.ndarray:
    """Seconds of each stay that fall in the daily windows ``hours`` (e.g. night). ``[stays]``."""
    return (_window_seconds_before(visits["end_s"].to_numpy(), start, hours, weekdays_only)
            - _window_seconds_before(visits["start_s"].to_numpy(), start, hours, weekdays_only))


def share_of_time_at(visits: pd.DataFrame, place_of_user: pd.Series, start: pd.Timestamp,
                     hours: tuple[tuple[float, float], ...], weekdays_only: bool = False) -> pd.Series:
    """Per user, the share of the time in the windows ``hours`` spent at ``place_of_user[user]``.

    Users whose place is -1 (none) are left out.
    """
    seconds = time_in_windows(visits, start, hours, weekdays_only)
    target = place_of_user.reindex(visits["user"]).to_numpy()
    at = visits["place"].to_numpy() == target
    frame = pd.DataFrame({"user": visits["user"].to_numpy(), "all": seconds, "at": seconds * at})
    sums = frame[target >= 0].groupby("user")[["all", "at"]].sum()
    return (sums["at"] / sums["all"].where(sums["all"] > 0)).rename("share")


def home_share_at_night(visits: pd.DataFrame, home: pd.Series, start: pd.Timestamp,
                        hours: tuple[tuple[float, float], ...] = NIGHT_HOURS) -> pd.Series:
    """Share of night hours (default 22:00-06:00 UTC) each user spends at home."""
    return share_of_time_at(visits, home, start, hours).rename("home_share_at_night")


def work_share_weekdays(visits: pd.DataFrame, work: pd.Series, start: pd.Timestamp,
                        hours: tuple[tuple[float, float], ...] = ((10.0, 16.0),)) -> pd.Series:
    """Share of weekday core hours (default 10:00-16:00 UTC) each user with a work place spends there."""
    return share_of_time_at(visits, work, start, hours, weekdays_only=True).rename("work_share_weekdays")


def detect_home_work(visits: pd.DataFrame, start: pd.Timestamp, min_work_hours: float = 4.0) -> pd.DataFrame:
    """Home = place with most night time; work = other place with most weekday 9:00-17:00 time.

    Args:
        min_work_hours: a work place needs at least this many working hours in the period, else -1.
    Returns:
        Frame indexed by user with columns ``home`` and ``work`` (place ids, work -1 if none).
    """
    frame = pd.DataFrame({"user": visits["user"].to_numpy(), "place": visits["place"].to_numpy(),
                          "night": time_in_windows(visits, start, NIGHT_HOURS),
                          "day": time_in_windows(visits, start, WORK_HOURS, weekdays_only=True),
                          "all": (visits["end_s"] - visits["start_s"]).to_numpy()})
    per_place = frame.groupby(["user", "place"])[["night", "day", "all"]].sum().reset_index()
    by_night = per_place.sort_values(["user", "night", "all"], ascending=[True, False, False], kind="stable")
    home = by_night.groupby("user")["place"].first()
    per_place = per_place[per_place["place"].to_numpy() != home.reindex(per_place["user"]).to_numpy()]
    per_place = per_place[per_place["day"] >= min_work_hours * HOUR]
    by_day = per_place.sort_values(["user", "day"], ascending=[True, False], kind="stable")
    work = by_day.groupby("user")["place"].first().reindex(home.index).fillna(-1).astype("int64")
    return pd.DataFrame({"home": home.astype("int64"), "work": work})
