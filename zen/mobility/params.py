"""Parameters of the mobility emulator, with the literature defaults and their sources.

Two families of parameters:

* **Exploration and preferential return** (EPR, Song et al., "Modelling the scaling properties of
  human mobility", Nature Physics 6, 2010; d-EPR / Ditras, Pappalardo et al., Nature Comms 6:8166,
  2015 and Data Min. Knowl. Disc. 32, 2018): at each free trip a user explores a new place with
  probability ``rho * S**-gamma`` (S = distinct places visited so far), otherwise returns to a visited
  place in proportion to its past visits. New places follow a gravity rule ``a_j / r_ij**2``. Waiting
  times follow a truncated power law ``P(dt) ~ dt**(-1-beta) * exp(-dt/tau)``.
* **The daily diary** (Working Day Movement model, Ekman et al., "Working day movement model",
  ACM MobilityModels 2008): home -> work -> optional evening activity -> home on working days; a
  later start and free trips on other days.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from zen.io import write_json_atomic
from zen.schema import ZenInputError

HOUR = 3600.0


def _activity_table(value):
    """``serving_activity`` with float lists (as JSON gives them); what is not a table is left for
    :meth:`MobilityParams.validate` to refuse."""
    try:
        table = None if value is None else {
            "gap_edges_s": [float(v) for v in value["gap_edges_s"]],
            "burst_edges_s": [float(v) for v in value["burst_edges_s"]],
            "keep": [[float(v) for v in row] for row in value["keep"]]}
        if table is not None and value.get("handover"):  # the handover distance law, if fitted
            law = value["handover"]
            table["handover"] = {"edges_m": [float(v) for v in law["edges_m"]],
                                 "weight": [float(v) for v in law["weight"]],
                                 "neighbours": int(law["neighbours"])}
        return table
    except (KeyError, TypeError, ValueError, AttributeError):
        return value


@dataclass
class MobilityParams:
    """All knobs of :class:`zen.mobility.MobilityEmulator`. Times of day in hours, durations in hours.

    Attributes:
        rho: exploration probability scale (Song et al. 2010: 0.6).
        gamma: exploration decay with the number of visited places (Song et al. 2010: 0.21).
        beta: waiting-time power-law exponent, ``P(dt) ~ dt**(-1-beta)`` (Song et al. 2010: 0.8).
        tau_h: waiting-time exponential cutoff in hours (Song et al. 2010: 17 h).
        wait_min_h: shortest free-trip stay, hours (truncation of the waiting-time law).
        wait_max_h: longest free-trip stay, hours.
        gravity_exponent: distance exponent of the exploration gravity rule (d-EPR: 2).
        min_distance_m: distances below this (metres) count as this in the gravity rule.
        work_share: share of users with a work/study place (Ekman et al. 2008 use ~0.8 workers).
        work_gravity_exponent: distance exponent of the home -> work gravity choice.
        work_day_prob: probability that a worker goes to work on a weekday (holidays, sick days).
        work_start_mean_h, work_start_sd_h: departure to work, hour of day (normal, Ekman et al.: 8 +- 1).
        work_hours_mean_h, work_hours_sd_h: time at work, hours (8 +- 1 in Ekman et al.).
        evening_prob: probability of an evening activity after work.
        evening_end_mean_h, evening_end_sd_h: hour of day after which no new evening trip starts.
        offday_home_prob: probability of staying home all day on a non-working day.
        offday_out_mean_h, offday_out_sd_h: first departure on a non-working day, hour of day.
        offday_return_mean_h, offday_return_sd_h: hour after which no new trip starts on such a day.
        max_trips_per_day: most free trips in one chain (a bound for the lock-step loop; times
            ``m`` for a user with an activity multiplier ``m > 1``, see ``explore_activity``).
        explore_candidates: gravity draws per exploration to find a place not visited yet.
        max_cells: places are grouped into at most this many spatial cells for the gravity choice
            (memory ``O(max_cells**2 + places)``); with fewer places the choice is exact.
        serving_dwell_h: mean time (hours) between changes of the serving place while a user stays
            put (cell reselection, load balancing: :mod:`zen.mobility.serving`, applied when
            stays are observed); 0 = off, the stay's own place serves throughout (the literature
            model, positions not cells).
        serving_main_prob: at each change, the probability that the stay's own place serves again.
        serving_radius_m: other serving places are among the ``serving_neighbours`` nearest
            places within this distance (metres).
        serving_neighbours: how many nearest places may serve instead.
        serving_activity: the activity-aware serving law (:mod:`zen.mobility.serving`), fitted on
            cell sequences: ``{"gap_edges_s": [...], "burst_edges_s": [...], "keep": [[...]]}``,
            ``keep[gap bin][burst bin]`` the probability of keeping the serving place of the
            user's previous event (same stay); it replaces ``serving_dwell_h``'s exponential law.
            An optional ``"handover": {"edges_m", "weight", "neighbours"}`` draws the neighbour a
            change goes to by distance (else uniformly among ``serving_neighbours``).
            None: off (the law independent of the user's events).
        explore_activity: ``k`` of activity-dependent mobility: a user with ``a`` events per day
            makes free trips ``m`` times as often and explores ``m`` times as readily (``rho *
            m``, at most 1), ``m = clip((a / activity_reference) ** k, 1/4, 4)``
            (:func:`zen.mobility.emulator.activity_multiplier`); fitted on cell sequences
            (``mobility.cells.explore_activity``). 0: off, every user alike (byte for byte the
            model without it). ``zen-generate`` feeds each user's events per day from the
            population profile; ``mode=mobility`` (no events) simulates every user at m = 1.
        activity_reference: the events per day with ``m = 1`` (the training users' median when
            fitted); must be > 0 when ``explore_activity`` is not 0.
    """

    rho: float = 0.6
    gamma: float = 0.21
    beta: float = 0.8
    tau_h: float = 17.0
    wait_min_h: float = 1.0 / 6.0
    wait_max_h: float = 24.0
    gravity_exponent: float = 2.0
    min_distance_m: float = 200.0
    work_share: float = 0.8
    work_gravity_exponent: float = 2.0
    work_day_prob: float = 0.95
    work_start_mean_h: float = 8.0
    work_start_sd_h: float = 1.0
    work_hours_mean_h: float = 8.0
    work_hours_sd_h: float = 1.0
    evening_prob: float = 0.4
    evening_end_mean_h: float = 21.0
    evening_end_sd_h: float = 1.0
    offday_home_prob: float = 0.15
    offday_out_mean_h: float = 10.5
    offday_out_sd_h: float = 1.5
    offday_return_mean_h: float = 19.5
    offday_return_sd_h: float = 1.5
    max_trips_per_day: int = 6
    explore_candidates: int = 8
    max_cells: int = 2048
    serving_dwell_h: float = 0.0
    serving_main_prob: float = 0.5
    serving_radius_m: float = 1500.0
    serving_neighbours: int = 8
    serving_activity: dict | None = None
    explore_activity: float = 0.0
    activity_reference: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, source: str | None = None) -> None:
        """Raise :class:`ZenInputError` for values outside their meaning (e.g. a negative rho)."""
        checks = {
            "rho": 0 < self.rho <= 1, "gamma": self.gamma >= 0, "beta": self.beta > 0,
            "tau_h": self.tau_h > 0, "wait_min_h": 0 < self.wait_min_h < self.wait_max_h,
            "gravity_exponent": self.gravity_exponent >= 0, "min_distance_m": self.min_distance_m > 0,
            "work_share": 0 <= self.work_share <= 1, "work_day_prob": 0 <= self.work_day_prob <= 1,
            "evening_prob": 0 <= self.evening_prob <= 1, "offday_home_prob": 0 <= self.offday_home_prob <= 1,
            "max_trips_per_day": self.max_trips_per_day >= 1,
            "explore_candidates": self.explore_candidates >= 1, "max_cells": self.max_cells >= 1,
            "serving_dwell_h": self.serving_dwell_h >= 0,
            "serving_main_prob": 0 <= self.serving_main_prob <= 1,
            "serving_radius_m": self.serving_radius_m > 0, "serving_neighbours": self.serving_neighbours >= 1,
            "explore_activity": -4.0 <= self.explore_activity <= 4.0,
            "activity_reference": self.activity_reference >= 0
            and (self.explore_activity == 0 or self.activity_reference > 0),
        }
        act = self.serving_activity
        if act is not None:
            try:
                shape = (len(act["gap_edges_s"]) + 1, len(act["burst_edges_s"]) + 1)
                keep = [float(v) for row in act["keep"] for v in row]
                checks["serving_activity"] = (len(act["keep"]) == shape[0]
                                              and all(len(row) == shape[1] for row in act["keep"])
                                              and all(0.0 <= v <= 1.0 for v in keep))
                law = act.get("handover")
                if law:
                    checks["serving_activity"] &= (len(law["weight"]) == len(law["edges_m"]) - 1
                                                   and all(float(v) >= 0 for v in law["weight"])
                                                   and int(law["neighbours"]) >= 1)
            except (KeyError, TypeError, ValueError):
                checks["serving_activity"] = False
        for name, ok in checks.items():
            if not ok:
                raise ZenInputError(f"invalid value {getattr(self, name)!r}; see zen/mobility/params.py",
                                    source, column=name)

    def without_activity(self) -> MobilityParams:
        """These parameters with the activity-aware serving law off (``coupling=none``)."""
        return replace(self, serving_activity=None)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str | None = None) -> MobilityParams:
        """Build from a mapping; unknown keys are an error (typos must not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ZenInputError(f"unknown mobility parameter(s) {unknown}; known: {sorted(known)}",
                                source, column=unknown[0])
        params = cls.__new__(cls)
        defaults = cls()
        for f in fields(cls):
            value = values.get(f.name, getattr(defaults, f.name))
            if f.name == "serving_activity":
                value = _activity_table(value)
            else:
                value = int(value) if f.type in ("int", int) else float(value)
            setattr(params, f.name, value)
        params.validate(source)
        return params

    def save(self, path: str | Path) -> Path:
        """Write as JSON, atomically."""
        return write_json_atomic(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> MobilityParams:
        path = Path(path)
        if not path.exists():
            raise ZenInputError("mobility parameters not found; run zen-train first", str(path))
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ZenInputError(f"not valid JSON: {err}", str(path), row=err.lineno) from err
        return cls.from_dict(values, source=str(path))
