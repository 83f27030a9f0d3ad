"""Events -> model tensors: the weekly clock, time rescaling and per-user step sequences.

The LSTM models time in *rescaled* seconds: the gap between two events is measured by the
compensator ``Lambda(t) = integral of lambda0`` of a fitted hour-of-week intensity ``lambda0``
(mean 1 over the week), so that a gap costs little where the population is busy and much at
4 a.m. (time-rescaling theorem, Brown et al., Neural Comput. 14:325, 2002). This puts the clock
into the time head explicitly; the LSTM only has to learn what the clock does not explain.
There is one clock per *chronotype* (a cluster of users' daily rhythms, ``profiles.Chronotypes``):
each user's times are rescaled with their own chronotype's clock, so night owls stay night owls.

Each user's timeline of ``n`` events becomes ``n + 1`` steps: step 0 reads a start token at the
window start, step ``i`` reads event ``i`` and predicts event ``i + 1``; the last step predicts
"no event before the window end" (the survival term of the point-process likelihood).
Every step also carries the count anchor (:func:`count_anchor`): events read so far against
the profile's events/day times the rescaled days elapsed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from zen.schema import DIRECTIONS, EVENTS
from zen.traffic.timeline import CONTACT_NONE, Timelines

HOUR_S = 3600.0
WEEK_S = 7 * 24 * HOUR_S
N_HOW = 168  # hours in a week
MIN_GAP = 0.5  # rescaled seconds; real gaps of 0 s (same-second events) are floored here
N_KINDS = len(EVENTS) * len(DIRECTIONS)  # event x direction classes (data/in is never used)
START_KIND = N_KINDS  # the start token's kind
TICK_KIND = N_KINDS + 1  # a tick: no event for tick_s rescaled seconds (see encode_users)
N_CLOCK = 6  # clock features, see clock_features
OUTCOME_MISSED, OUTCOME_ZERO, OUTCOME_POSITIVE = 0, 1, 2  # missed call / 0 s / > 0 s


def kind_of(event: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Event x direction class ``event * 2 + direction``. ``[n]`` int64."""
    return event.astype(np.int64) * len(DIRECTIONS) + direction.astype(np.int64)


def outcome_of(duration_s: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """Outcome class: missed (0), zero length (1), positive length (2). ``[n]`` int64."""
    out = np.where(duration_s > 0, OUTCOME_POSITIVE, OUTCOME_ZERO)
    return np.where(~answered.astype(bool), OUTCOME_MISSED, out).astype(np.int64)


def week_offset_s(start: pd.Timestamp) -> float:
    """Seconds from the Monday 00:00 (UTC) before ``start`` to ``start``."""
    ts = pd.Timestamp(start)
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    monday = ts.normalize() - pd.Timedelta(days=ts.day_of_week)
    return (ts - monday).total_seconds()


class WeeklyClock:
    """Fitted hour-of-week intensities and their compensators (vectorised, float64, torch).

    One clock per *chronotype* (``K`` rows; ``K = 1`` is a single population clock). Every
    method takes ``k``, each time's chronotype (int64, broadcast against the times; None =
    clock 0), so a batch of users is rescaled with each user's own clock in one call.
    Times ``u`` are seconds since a Monday 00:00 UTC (add :func:`week_offset_s` of the window
    start to window-relative seconds). Methods take and return torch tensors (float64).

    Args:
        rate: ``[168]`` or ``[K, 168]`` relative intensity per hour of the week, each row mean 1.
    """

    def __init__(self, rate: np.ndarray):
        rate = torch.as_tensor(np.asarray(rate, np.float64))
        self.rate = rate.reshape(-1, N_HOW)  # [K, 168]
        self.cum = torch.cat([torch.zeros(len(self.rate), 1, dtype=torch.float64),
                              torch.cumsum(self.rate * HOUR_S, 1)], 1)  # [K, 169] rescaled s
        self.week = float(self.cum[0, -1])
        if not torch.allclose(self.cum[:, -1], self.cum[0, -1]):
            raise ValueError("every chronotype clock must have the same mean rate")
        # the K cumulative curves laid end to end, 2 weeks apart: one sorted array to search
        self._flat = (self.cum + 2 * self.week * torch.arange(len(self.rate), dtype=torch.float64)[:, None]
                      ).reshape(-1)

    @property
    def n_clocks(self) -> int:
        return len(self.rate)

    @staticmethod
    def _rates(week_seconds: np.ndarray, offset_s: float, days: float,
               groups: np.ndarray | None = None, n_groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Event counts ``[G, 168]`` per hour-of-week bin and the hours ``[168]`` the window covered."""
        how = (np.floor(np.asarray(week_seconds) / HOUR_S).astype(np.int64)) % N_HOW
        g = np.zeros(len(how), np.int64) if groups is None else np.asarray(groups, np.int64)
        counts = np.bincount(g * N_HOW + how, minlength=n_groups * N_HOW).reshape(n_groups, N_HOW)
        hours = (np.arange(int(np.ceil(days * 24))) + int(offset_s // HOUR_S)) % N_HOW
        exposure = np.maximum(np.bincount(hours, minlength=N_HOW), 1).astype(np.float64)
        return counts.astype(np.float64), exposure

    @classmethod
    def fit(cls, week_seconds: np.ndarray, offset_s: float, days: float,
            smoothing: float = 1.0) -> WeeklyClock:
        """Fit one clock from event times (seconds since Monday 00:00) seen in a window of
        ``days`` that starts ``offset_s`` seconds after a Monday 00:00.

        Counts per hour-of-week bin, plus a pseudo-count of ``smoothing`` events, are divided
        by the hours the window covered that bin and normalised to mean 1.
        """
        counts, exposure = cls._rates(week_seconds, offset_s, days)
        rate = (counts[0] + smoothing) / exposure
        return cls(rate / rate.mean())

    @classmethod
    def fit_chronotypes(cls, week_seconds: np.ndarray, chronotype: np.ndarray, n_chronotypes: int,
                        offset_s: float, days: float, smoothing: float = 1.0,
                        prior_events: float = 240.0) -> WeeklyClock:
        """One clock per chronotype: the population's weekly clock reweighted, hour of day by
        hour of day, by how much more (or less) the chronotype's events fall in that hour.

        ``rate_k(how) = rate(how) * p_k(hour) / p(hour)``, each row renormalised to mean 1, where
        ``p_k`` is chronotype ``k``'s hour-of-day share with ``prior_events`` pseudo-events spread
        like the population's ``p`` (shrinkage for small chronotypes). Only the hour-of-day shape
        differs between chronotypes; the day-of-week structure, which ~100 users per chronotype
        cannot estimate per hour of the week, comes from everyone.

        Args:
            week_seconds: ``[n_events]`` event times, seconds since Monday 00:00.
            chronotype: ``[n_events]`` the chronotype of each event's user (0..K-1).
        """
        counts, exposure = cls._rates(week_seconds, offset_s, days, chronotype, n_chronotypes)
        total = counts.sum(0)
        base = (total + smoothing) / exposure
        base /= base.mean()
        hod = counts.reshape(n_chronotypes, 7, 24).sum(1)  # [K, 24]
        p = (total.reshape(7, 24).sum(0) + smoothing) / (total.sum() + 24 * smoothing)  # [24]
        p_k = (hod + prior_events * p) / (hod.sum(1, keepdims=True) + prior_events)
        rate = base[None, :] * np.tile(p_k / p, (1, 7))  # [K, 168]
        return cls(rate / rate.mean(1, keepdims=True))

    def to(self, device: torch.device | str) -> WeeklyClock:
        out = WeeklyClock.__new__(WeeklyClock)
        out.rate, out.cum, out._flat = self.rate.to(device), self.cum.to(device), self._flat.to(device)
        out.week = self.week
        return out

    def _k(self, k, like: torch.Tensor) -> torch.Tensor:
        if k is None:
            return torch.zeros_like(like, dtype=torch.long)
        return torch.as_tensor(k, dtype=torch.long, device=like.device).expand_as(like)

    def compensator(self, u, k=None) -> torch.Tensor:
        """``Lambda_k(u)`` in rescaled seconds. ``u``: seconds since Monday 00:00, any shape;
        ``k``: chronotypes broadcast against ``u`` (None: clock 0)."""
        u = torch.as_tensor(u, dtype=torch.float64, device=self.rate.device)
        k = self._k(k, u)
        weeks = torch.floor(u / WEEK_S)
        r = u - weeks * WEEK_S
        b = torch.clamp(torch.div(r, HOUR_S, rounding_mode="floor").long(), 0, N_HOW - 1)
        return weeks * self.week + self.cum[k, b] + self.rate[k, b] * (r - b * HOUR_S)

    def inverse(self, lam, k=None) -> torch.Tensor:
        """``u`` such that ``Lambda_k(u) = lam`` (seconds since Monday 00:00)."""
        lam = torch.as_tensor(lam, dtype=torch.float64, device=self.rate.device)
        k = self._k(k, lam)
        weeks = torch.floor(lam / self.week)
        r = lam - weeks * self.week
        shift = 2 * self.week * k
        j = torch.searchsorted(self._flat, (r + shift).contiguous(), right=True) - 1 - k * (N_HOW + 1)
        b = torch.clamp(j, 0, N_HOW - 1)
        return weeks * WEEK_S + b * HOUR_S + (r - self.cum[k, b]) / self.rate[k, b]

    def log_rate(self, u, k=None) -> torch.Tensor:
        """``log lambda0_k(u)``, the Jacobian of the rescaling (per second)."""
        u = torch.as_tensor(u, dtype=torch.float64, device=self.rate.device)
        k = self._k(k, u)
        b = torch.remainder(torch.div(u, HOUR_S, rounding_mode="floor").long(), N_HOW)
        return torch.log(self.rate[k, b])


def clock_features(u: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Time context at ``u`` seconds since Monday 00:00: sin/cos of hour-of-day and of
    day-of-week, a weekend flag and a night flag (0-6 h). ``[..., 6]`` float32."""
    u = torch.as_tensor(u, dtype=torch.float64)
    day = 2 * np.pi * (u % 86400.0) / 86400.0
    week = 2 * np.pi * (u % WEEK_S) / WEEK_S
    weekday = torch.floor((u % WEEK_S) / 86400.0)
    hour = torch.floor((u % 86400.0) / HOUR_S)
    feats = [torch.sin(day), torch.cos(day), torch.sin(week), torch.cos(week),
             (weekday >= 5).double(), (hour < 6).double()]
    return torch.stack(feats, -1).float()


@dataclass
class StepBatch:
    """Padded step tensors of a batch of users, time-major inside each user: ``[B, L]``.

    Inputs describe the event read at a step; targets the next one. ``valid`` marks real steps
    (padding is False); ``is_event`` marks steps whose target is an event (False: survival).
    """

    kind: torch.Tensor         # [B, L] int64, input kind (START_KIND at step 0)
    gap_in: torch.Tensor       # [B, L] float32, log rescaled gap before the input event
    dur_in: torch.Tensor       # [B, L] float32, log1p duration of the input event
    answered_in: torch.Tensor  # [B, L] float32
    rank_in: torch.Tensor      # [B, L] int64, rank bucket of the input event
    clock_in: torch.Tensor     # [B, L, 6] clock at the input event
    gap: torch.Tensor          # [B, L] float64 target rescaled gap (or gap to window end)
    log_jac: torch.Tensor      # [B, L] float32 log lambda0 at the target time
    clock_next: torch.Tensor   # [B, L, 6] clock at the target event
    kind_next: torch.Tensor    # [B, L] int64
    outcome_next: torch.Tensor  # [B, L] int64
    dur_next: torch.Tensor     # [B, L] float32 duration (s) of the target event
    rank_next: torch.Tensor    # [B, L] int64 rank class of the target (-1 for none)
    valid: torch.Tensor        # [B, L] bool
    is_event: torch.Tensor     # [B, L] bool
    anchor: torch.Tensor       # [B, L] float32 count anchor at the input event (count_anchor)
    profile: torch.Tensor      # [B, P] float32 standardised profile
    n_contacts: torch.Tensor   # [B] int64, mask for the rank head

    def to(self, device: torch.device | str) -> StepBatch:
        return StepBatch(**{k: v.to(device) for k, v in self.__dict__.items()})

    def chunk(self, lo: int, hi: int) -> StepBatch:
        """Steps ``[lo, hi)`` of every user (profile and contacts unchanged)."""
        return StepBatch(**{k: (v[:, lo:hi] if v.dim() >= 2 and k != "profile" else v)
                            for k, v in self.__dict__.items()})

    @property
    def length(self) -> int:
        return self.kind.shape[1]


def rank_bucket(rank: np.ndarray, max_rank: int) -> np.ndarray:
    """Rank input bucket: ``0..max_rank-1`` (tail shares the last), ``max_rank`` = none."""
    return np.where(rank < 0, max_rank, np.minimum(rank, max_rank - 1)).astype(np.int64)


def count_anchor(count: torch.Tensor | np.ndarray, expected: torch.Tensor | np.ndarray):
    """How far a user's events so far are ahead of (> 0) or behind (< 0) their profile:
    ``log((count + 1) / (expected + 1))``, clipped to [-4, 4]. Same shape as the inputs.

    ``expected`` = profile events/day x rescaled days since the start of the user's timeline.
    Read by the LSTM at every step, it lets the model steer each user back to their profile's
    rate however long the sampled timeline runs (see experiments/traffic_drift.md).
    """
    if isinstance(count, torch.Tensor):
        return torch.log((count + 1.0) / (expected + 1.0)).clamp(-4.0, 4.0)
    return np.clip(np.log((count + 1.0) / (expected + 1.0)), -4.0, 4.0)


def encode_users(tl: Timelines, users: np.ndarray, days: float, offset_s: float, clock: WeeklyClock,
                 profile: np.ndarray, n_contacts: np.ndarray, max_rank: int,
                 chronotype: np.ndarray | None = None, activity: np.ndarray | None = None,
                 tick_s: float | None = None) -> StepBatch:
    """Build the padded step tensors of ``users`` (indices into ``tl``'s users).

    Args:
        tl: timelines sorted by (user, t_s), times in seconds since the window start.
        users: ``[B]`` user indices to encode, in batch order.
        days: observation window (days); the survival term runs to its end.
        offset_s: :func:`week_offset_s` of the window start.
        clock: the chronotype clocks; each user's times are rescaled with their own.
        profile: ``[n_users, P]`` standardised profiles; ``n_contacts``: ``[n_users]``.
        chronotype: ``[n_users]`` int chronotype of each user (None: clock 0 for all).
        activity: ``[n_users]`` profile events/day, for the count anchor (None: anchor 0).
        tick_s: a silence of this many rescaled seconds gets a tick step (kind
            :data:`TICK_KIND`, no event, censored gap), and another after each further
            ``tick_s``, so the model's state (and count anchor) moves on during silences as the
            sampler's does (None: no ticks).
    """
    users = np.asarray(users, np.int64)
    bounds = np.searchsorted(tl.user, np.stack([users, users + 1]))  # [2, B]
    n_ev = bounds[1] - bounds[0]
    B = len(users)
    k = np.zeros(B, np.int64) if chronotype is None else np.asarray(chronotype, np.int64)[users]
    # points of each user: the window start, then their events (point p = event p, 1-based)
    n_pt = n_ev + 1
    prow = np.repeat(np.arange(B), n_pt)
    p_in = np.arange(n_pt.sum()) - np.repeat(np.cumsum(n_pt) - n_pt, n_pt)  # 0..n per user
    ev = np.where(p_in > 0, np.repeat(bounds[0], n_pt) + p_in - 1, -1)  # index into tl, -1 = start
    u_pt = np.where(ev >= 0, tl.t_s[np.maximum(ev, 0)], 0.0) + offset_s
    lam_pt = clock.compensator(u_pt, torch.from_numpy(k[prow])).numpy()
    end_u = days * 86400.0 + offset_s
    lam_end = clock.compensator(np.full(B, end_u), torch.from_numpy(k)).numpy()
    nxt = np.append(lam_pt[1:], 0.0)
    last = p_in == n_ev[prow]
    lam_nxt = np.where(last, lam_end[prow], nxt)  # the next point (or the window end)
    ticks = np.zeros(len(lam_pt), np.int64) if tick_s is None else \
        np.maximum(np.ceil((lam_nxt - lam_pt) / tick_s).astype(np.int64) - 1, 0)
    # steps: each point, then its ticks; step j of a user predicts step j + 1 (or the window end)
    n_st = np.bincount(prow, weights=1 + ticks, minlength=B).astype(np.int64)
    L = int(n_st.max())
    src = np.repeat(np.arange(len(lam_pt)), 1 + ticks)  # the point each step follows
    j = np.arange(len(src)) - np.repeat(np.cumsum(1 + ticks) - (1 + ticks), 1 + ticks)  # 0 = the point
    row = prow[src]
    col = np.arange(len(src)) - np.repeat(np.cumsum(n_st) - n_st, n_st)
    lam = lam_pt[src] + j * (tick_s or 0.0)
    is_tick = j > 0
    u = np.where(is_tick, clock.inverse(lam, torch.from_numpy(k[row])).numpy(), u_pt[src])
    first = np.zeros(len(src), bool)
    first[np.cumsum(n_st) - n_st] = True
    lam_prev = np.where(first, lam, np.roll(lam, 1))
    final = np.zeros(len(src), bool)
    final[np.cumsum(n_st) - 1] = True
    lam_next = np.where(final, lam_end[row], np.roll(lam, -1))
    next_is_event = ~final & ~np.roll(is_tick, -1)
    ev_next = np.where(next_is_event, ev[np.minimum(src + 1, len(ev) - 1)], -1)
    u_next = np.where(final, end_u, np.roll(u, -1))

    def grid(values: np.ndarray, fill, dtype) -> np.ndarray:
        out = np.full((B, L), fill, dtype)
        out[row, col] = values
        return out

    def of_event(e: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
        return np.where(e >= 0, values[np.maximum(e, 0)], fill)

    ev_in = np.where(is_tick, -1, ev[src])  # the event a step reads (-1: start or tick)
    kinds, outcomes = kind_of(tl.event, tl.direction), outcome_of(tl.duration_s, tl.answered)
    kind_in = np.where(is_tick, TICK_KIND, of_event(ev_in, kinds, START_KIND))
    valid = np.arange(L)[None, :] < n_st[:, None]
    is_event = grid(next_is_event, False, bool)
    gap = grid(np.maximum(lam_next - lam, MIN_GAP), 1.0, np.float64)
    gap_in = grid(np.where(first, 0.0, np.log(np.maximum(lam - lam_prev, MIN_GAP))), 0.0, np.float64)
    count = np.maximum(p_in[src], 0).astype(np.float64)  # events read so far
    if activity is None:
        anchor = np.zeros(len(src))
    else:  # expected: profile events/day x rescaled days since the window start
        lam0 = lam_pt[(np.cumsum(n_pt) - n_pt)[row]]
        anchor = count_anchor(count, np.asarray(activity, np.float64)[users][row] * (lam - lam0) / 86400.0)
    rank_in = rank_bucket(of_event(ev_in, tl.contact_rank.astype(np.int64), CONTACT_NONE), max_rank)
    rank_nx = of_event(ev_next, tl.contact_rank.astype(np.int64), -1)
    rank_nx = np.where(rank_nx < 0, -1, np.minimum(rank_nx, max_rank - 1))
    durations, answered = tl.duration_s.astype(np.float64), tl.answered.astype(np.float64)
    u_next_grid = grid(u_next, offset_s, np.float64)
    log_jac = np.where(is_event, clock.log_rate(u_next_grid, torch.from_numpy(k)[:, None]).numpy(), 0.0)
    f32 = torch.float32
    return StepBatch(
        kind=torch.from_numpy(grid(kind_in, START_KIND, np.int64)),
        gap_in=torch.tensor(gap_in, dtype=f32),
        dur_in=torch.tensor(grid(np.log1p(of_event(ev_in, durations, 0.0)), 0.0, np.float64), dtype=f32),
        answered_in=torch.tensor(grid(of_event(ev_in, answered, 1.0), 1.0, np.float64), dtype=f32),
        rank_in=torch.from_numpy(grid(rank_in, max_rank, np.int64)),
        clock_in=clock_features(grid(u, offset_s, np.float64)), gap=torch.from_numpy(gap),
        log_jac=torch.tensor(log_jac, dtype=f32),
        clock_next=clock_features(u_next_grid),
        kind_next=torch.from_numpy(grid(of_event(ev_next, kinds, 0), 0, np.int64)),
        outcome_next=torch.from_numpy(grid(of_event(ev_next, outcomes, OUTCOME_ZERO), OUTCOME_ZERO,
                                           np.int64)),
        dur_next=torch.tensor(grid(of_event(ev_next, durations, 0.0), 0.0, np.float64), dtype=f32),
        rank_next=torch.from_numpy(grid(rank_nx, -1, np.int64)),
        valid=torch.from_numpy(valid), is_event=torch.from_numpy(is_event),
        anchor=torch.tensor(grid(anchor, 0.0, np.float64), dtype=f32),
        profile=torch.tensor(profile[users], dtype=f32),
        n_contacts=torch.from_numpy(np.asarray(n_contacts, np.int64)[users]))
