"""The mobility emulator: anchored daily life plus exploration and preferential return, in lock-step.

Every simulated calendar day runs the same few tensor steps for all users of a shard at once:

1. working users (a work place, a weekday, not absent) stay home until a drawn departure time, then
   at work for a drawn number of hours, then with ``evening_prob`` start a chain of free trips;
2. the others stay home all day (``offday_home_prob``) or leave at a drawn hour and chain free trips
   until a drawn return hour;
3. a free trip explores a new place with probability ``rho * S**-gamma`` (gravity choice from the
   current place, :class:`~zen.mobility.places.GravityIndex`), otherwise returns to a visited
   non-anchor place in proportion to its visits; it lasts a truncated-power-law waiting time.

With ``params.explore_activity`` (``k``) not 0 and each user's events per day given, heavy users
move and explore more: a user's free-trip waiting times are divided by ``m`` and the exploration
probability multiplied by it (:func:`activity_multiplier`), and for ``m > 1`` the day's trip bound
is ``max_trips_per_day * m``; ``k = 0`` or no activity given is the
model without it, byte for byte.

The chain loop runs at most ``max_trips_per_day`` steps per day over the users still out, so the
cost is O(days · trips · users) tensor work, no Python loop per user. Anchors (home, work) are in
each user's visited set from the start; returns go to non-anchor places only, because trips to the
anchors are the diary's job. Calibration (:mod:`zen.mobility.calibration`) fits rho and gamma on the
same definition.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import torch

from zen.mobility.params import HOUR, MobilityParams
from zen.mobility.places import GravityIndex, check_places
from zen.mobility.stays import Stays, stays_from_segments
from zen.mobility.waiting import sample_waiting_times
from zen.schema import ZenInputError

DAY = 86400.0
_GRAVITY: dict[tuple, GravityIndex] = {}  # the last index built in this process (see _gravity_index)


def _gravity_index(places: pd.DataFrame, params: MobilityParams, device: torch.device) -> GravityIndex:
    """The gravity index of ``places``, built once per process for the same places and parameters.

    Every shard of a run simulates over the same places: the index (its cells x cells table is
    ~0.3 s to build at 25k places) is kept, keyed on a digest of its inputs, so a changed table
    or parameter builds a new one.
    """
    attractiveness = places["home_weight"].to_numpy() + places["work_weight"].to_numpy()
    lat, lon = places["lat"].to_numpy(), places["lon"].to_numpy()
    digest = hashlib.sha256()
    for a in (lat, lon, attractiveness):
        digest.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    key = (digest.hexdigest(), float(params.gravity_exponent), float(params.min_distance_m),
           int(params.max_cells), str(device))
    if key not in _GRAVITY:
        _GRAVITY.clear()
        _GRAVITY[key] = GravityIndex(lat, lon, attractiveness, params.gravity_exponent, params.min_distance_m,
                                     params.max_cells, device)
    return _GRAVITY[key]


#: the bounds of the activity multiplier of :func:`activity_multiplier`
ACTIVITY_MULTIPLIER_RANGE = (0.25, 4.0)


def activity_multiplier(activity: np.ndarray, k: float, reference: float) -> np.ndarray:
    """``m = clip((activity / reference) ** k, 1/4, 4)`` per user: how many times as often a user
    with ``activity`` events per day makes free trips, and as readily explores, as one at
    ``reference``. ``[n_users]`` float64; non-positive activity counts as the lower bound's user.
    """
    if not reference > 0:
        raise ZenInputError(f"activity_reference must be > 0, got {reference}", "mobility",
                            column="activity_reference")
    ratio = np.maximum(np.asarray(activity, dtype=np.float64), 1e-12) / float(reference)
    return np.clip(ratio ** float(k), *ACTIVITY_MULTIPLIER_RANGE)


def choose_anchors(places: pd.DataFrame, n_users: int, params: MobilityParams,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Home and work place of each user of the whole population.

    Homes are drawn in proportion to ``home_weight``. A share ``params.work_share`` of users gets a
    work place by a gravity rule from home, ``work_weight / r**work_gravity_exponent`` (through the
    cell-grouped :class:`GravityIndex`, so memory stays O(cells² + places)); the others get -1. A work
    place equal to the home is redrawn once.

    Returns:
        (home, work): ``[n_users]`` int64 place indices; work is -1 for users without one.
    """
    places = check_places(places)
    p = places["home_weight"].to_numpy() / places["home_weight"].sum()
    home = rng.choice(len(places), size=n_users, p=p).astype(np.int64)
    work = np.full(n_users, -1, dtype=np.int64)
    workers = np.flatnonzero(rng.random(n_users) < params.work_share)
    if len(workers) == 0 or places["work_weight"].sum() <= 0:
        return home, work
    index = GravityIndex(places["lat"].to_numpy(), places["lon"].to_numpy(), places["work_weight"].to_numpy(),
                         params.work_gravity_exponent, params.min_distance_m, params.max_cells)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    origin = torch.as_tensor(home[workers])
    draw = index.sample(origin, generator)
    again = draw == origin
    draw[again] = index.sample(origin[again], generator)
    work[workers] = draw.numpy()
    return home, work


class MobilityEmulator:
    """Anchored EPR mobility for a shard of users, batched as torch tensors (CPU or CUDA).

    Memory is O(users · visited places + cells² + places): exploration draws from the cell-grouped
    gravity index (:class:`~zen.mobility.places.GravityIndex`, at most ``params.max_cells`` cells,
    exact below that many places), never from a places x places matrix.

    Args:
        params: the model's parameters (literature defaults or calibrated).
    """

    def __init__(self, params: MobilityParams):
        self.params = params

    def simulate(self, places: pd.DataFrame, home: np.ndarray, work: np.ndarray, days: float,
                 start: pd.Timestamp | str, seed: int, device: str | torch.device = "cpu",
                 activity: np.ndarray | None = None) -> Stays:
        """Simulate ``days`` days from ``start`` for the users with these anchors.

        Args:
            places: the places table (see :func:`check_places`).
            home: ``[n_users]`` home place per user.
            work: ``[n_users]`` work place per user, -1 for none.
            days: length of the period in days (may be fractional).
            start: what second 0 is; its weekday and time of day set the diary (UTC).
            seed: seeds the ``torch.Generator``; same seed, same stays on CPU.
            device: ``cpu``, ``cuda``...
            activity: ``[n_users]`` events per day of each user, for ``params.explore_activity``
                (ignored when that is 0; with it not 0 and no activity, every user has m = 1).
        Returns:
            :class:`Stays` tiling ``[0, days*86400)`` for each user.
        """
        places = check_places(places)
        home, work = np.asarray(home, dtype=np.int64), np.asarray(work, dtype=np.int64)
        n_places = len(places)
        if home.shape != work.shape or home.ndim != 1:
            raise ZenInputError("home and work must be 1-D arrays of the same length", "simulate",
                                column="home")
        out_of_range = (home < 0) | (home >= n_places) | (work < -1) | (work >= n_places)
        if out_of_range.any():
            raise ZenInputError(f"anchor outside 0..{n_places - 1} (work may be -1)", "simulate",
                                row=int(np.flatnonzero(out_of_range)[0]), column="home")
        if not days > 0:
            raise ZenInputError(f"days must be > 0, got {days}", "simulate", column="days")
        device = torch.device(device)
        mult = None
        if self.params.explore_activity != 0 and activity is not None:
            activity = np.asarray(activity, dtype=np.float64)
            if activity.shape != home.shape:
                raise ZenInputError(f"activity must have one value per user ({len(home)}), got shape "
                                    f"{activity.shape}", "simulate", column="activity")
            mult = activity_multiplier(activity, self.params.explore_activity, self.params.activity_reference)
        run = _Run(self.params, places, home, work, days, pd.Timestamp(start), seed, device, mult)
        stays = run.simulate()
        from zen.mobility.serving import ServingProcess

        stays.serving = ServingProcess.for_params(places, self.params, seed)
        return stays


class _Run:
    """The state of one simulation: tensors ``[n_users]`` and the visited sets ``[n_users, capacity]``."""

    def __init__(self, params: MobilityParams, places: pd.DataFrame, home: np.ndarray, work: np.ndarray,
                 days: float, start: pd.Timestamp, seed: int, device: torch.device,
                 mult: np.ndarray | None = None):
        self.p, self.device, self.period = params, device, float(days) * DAY
        self.mult = None if mult is None else torch.as_tensor(mult, dtype=torch.float64, device=device)
        start = start.tz_convert("UTC") if start.tzinfo else start
        self.day_offset_s = float((start - start.normalize()).total_seconds())
        self.first_weekday = int(start.day_of_week)
        self.gen = torch.Generator(device=device).manual_seed(int(seed))
        self.gravity = _gravity_index(places, params, device)
        n = len(home)
        self.n = n
        self.home = torch.as_tensor(home, device=device)
        self.work = torch.as_tensor(work, device=device)
        self.t = torch.zeros(n, dtype=torch.float64, device=device)
        self.cur = self.home.clone()
        capacity = 16
        self.visited = torch.full((n, capacity), -1, dtype=torch.int64, device=device)
        self.counts = torch.zeros((n, capacity), dtype=torch.float64, device=device)
        self.visited[:, 0] = self.home
        has_work = self.work >= 0
        self.visited[:, 1] = torch.where(has_work, self.work, -1)
        self.n_anchor = 1 + has_work.long()
        self.n_visited = self.n_anchor.clone()
        self.segments: list[tuple[torch.Tensor, ...]] = []

    # --- random draws -------------------------------------------------------------------------
    def _rand(self, n: int) -> torch.Tensor:
        return torch.rand(n, generator=self.gen, device=self.device, dtype=torch.float64)

    def _hour(self, n: int, mean_h: float, sd_h: float, lo_h: float, hi_h: float) -> torch.Tensor:
        z = torch.randn(n, generator=self.gen, device=self.device, dtype=torch.float64)
        return (mean_h + sd_h * z).clamp_(lo_h, hi_h) * HOUR

    # --- the timeline -------------------------------------------------------------------------
    def _stay(self, users: torch.Tensor, place: torch.Tensor, until: torch.Tensor) -> None:
        """Users ``[k]`` are at ``place`` from their current time until ``until`` (not before now)."""
        begin = self.t[users]
        end = torch.maximum(until, begin)
        self.segments.append((users, begin, end, place))
        self.t[users] = end
        self.cur[users] = place

    def simulate(self) -> Stays:
        n_days = math.ceil((self.day_offset_s + self.period) / DAY)
        everyone = torch.arange(self.n, device=self.device)
        for day in range(n_days):
            self._day(day * DAY - self.day_offset_s, (self.first_weekday + day) % 7 < 5)
        self._stay(everyone, self.home, torch.full((self.n,), self.period, dtype=torch.float64,
                                                  device=self.device))
        user, begin, end, place = (torch.cat(parts).cpu().numpy()
                                   for parts in zip(*self.segments, strict=True))
        return stays_from_segments(user, begin, end, place, self.period, self.n)

    def _day(self, day_start: float, weekday: bool) -> None:
        p, n = self.p, self.n
        absent = self._rand(n) >= p.work_day_prob
        depart = day_start + self._hour(n, p.work_start_mean_h, p.work_start_sd_h, 4.0, 14.0)
        working = (self.work >= 0) & ~absent & weekday & (depart >= 0)  # a mid-day start skips day 0's work
        hours = self._hour(n, p.work_hours_mean_h, p.work_hours_sd_h, 1.0, 14.0)
        evening = self._rand(n) < p.evening_prob
        evening_end = day_start + self._hour(n, p.evening_end_mean_h, p.evening_end_sd_h, 17.0, 26.0)
        stay_in = self._rand(n) < p.offday_home_prob
        out = day_start + self._hour(n, p.offday_out_mean_h, p.offday_out_sd_h, 6.0, 16.0)
        back = day_start + self._hour(n, p.offday_return_mean_h, p.offday_return_sd_h, 12.0, 26.0)

        w = torch.nonzero(working).squeeze(1)
        self._stay(w, self.home[w], depart[w])
        self._stay(w, self.work[w], self.t[w] + hours[w])
        chain = torch.nonzero(working & evening).squeeze(1)
        self._free_trips(chain, evening_end[chain])
        o = torch.nonzero(~working & ~stay_in).squeeze(1)
        self._stay(o, self.home[o], out[o])
        self._free_trips(o, back[o])

    # --- exploration and preferential return --------------------------------------------------
    def _free_trips(self, users: torch.Tensor, deadline: torch.Tensor) -> None:
        """Chain free trips for ``users`` while their clock is before ``deadline`` (seconds)."""
        p = self.p
        steps, cap = p.max_trips_per_day, None
        if self.mult is not None:  # a heavy user's bound grows with its trip rate: max_trips_per_day * m
            cap = p.max_trips_per_day * self.mult[users].clamp(min=1.0)
            steps = math.ceil(p.max_trips_per_day * max(1.0, float(self.mult.max())))
        for step in range(steps):
            out = self.t[users] < deadline
            if cap is not None:
                out &= step < cap
                cap = cap[out]
            users, deadline = users[out], deadline[out]
            if len(users) == 0:
                return
            place = self._destination(users)
            wait = sample_waiting_times(len(users), p.beta, p.tau_h * HOUR, p.wait_min_h * HOUR,
                                        p.wait_max_h * HOUR, self.gen, self.device)
            if self.mult is not None:  # activity-dependent: heavy users' trips come m times as often
                wait = wait / self.mult[users]
            self._stay(users, place, self.t[users] + wait)

    def _destination(self, users: torch.Tensor) -> torch.Tensor:
        """EPR choice for ``users`` [k]: a new place (gravity) or a return (visit counts). ``[k]`` int64.

        Gravity draws are made only for the explorers, visit-count draws only for the returners.
        """
        p = self.p
        slots = torch.arange(self.visited.shape[1], device=self.device)
        visited = self.visited[users]
        returnable = (slots >= self.n_anchor[users, None]) & (slots < self.n_visited[users, None])
        returnable &= visited != self.cur[users, None]
        weights = self.counts[users] * returnable
        can_return = weights.sum(1) > 0
        s = self.n_visited[users].double()
        p_new = p.rho * s.pow(-p.gamma)
        if self.mult is not None:  # activity-dependent exploration, rho * m (at most 1)
            p_new = (p.rho * self.mult[users]).clamp(max=1.0) * s.pow(-p.gamma)
        explore = (self._rand(len(users)) < p_new) | ~can_return
        place = self.cur[users].clone()

        ex = torch.nonzero(explore).squeeze(1)
        candidates = self.gravity.sample(self.cur[users[ex], None].expand(-1, p.explore_candidates), self.gen)
        fresh = ~(candidates[:, :, None] == visited[ex, None, :]).any(2)  # [explorers, candidates]
        found = fresh.any(1)
        first = candidates.gather(1, fresh.float().argmax(1, keepdim=True)).squeeze(1)
        place[ex] = torch.where(found, first, candidates[:, 0])  # only visited ones found: a revisit
        self._add_visited(users[ex[found]], first[found])

        explore[ex[~found]] = False  # explorers that found only visited places return instead
        back = torch.nonzero(~explore & can_return).squeeze(1)
        cum = weights[back].cumsum(1)
        u = self._rand(len(back)) * cum[:, -1]
        slot = torch.searchsorted(cum, u[:, None], right=True).squeeze(1).clamp_(max=cum.shape[1] - 1)
        place[back] = visited[back].gather(1, slot[:, None]).squeeze(1)
        self.counts[users[back], slot] += 1
        return place

    def _add_visited(self, users: torch.Tensor, place: torch.Tensor) -> None:
        if len(users) == 0:
            return
        if int(self.n_visited.max()) >= self.visited.shape[1]:
            grow = self.visited.shape[1]
            self.visited = torch.cat([self.visited, self.visited.new_full((self.n, grow), -1)], 1)
            self.counts = torch.cat([self.counts, self.counts.new_zeros((self.n, grow))], 1)
        slot = self.n_visited[users]
        self.visited[users, slot] = place
        self.counts[users, slot] = 1.0
        self.n_visited[users] += 1
