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
                 chronotype: np.ndarray | None = None, activity: np.ndarray | None = None) -> StepBatch:
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
    """
    users = np.asarray(users, np.int64)
    bounds = np.searchsorted(tl.user, np.stack([users, users + 1]))  # [2, B]
    n_ev = bounds[1] - bounds[0]
    B, L = len(users), int(n_ev.max()) + 1
    # position of every event of these users in the padded [B, L] grid (events at steps 1..n)
    row = np.repeat(np.arange(B), n_ev)
    within = np.arange(n_ev.sum()) - np.repeat(np.cumsum(n_ev) - n_ev, n_ev)  # 0..n-1 per user
    ev = np.repeat(bounds[0], n_ev) + within  # index into tl
    col = within + 1
    t = np.zeros((B, L + 1))  # t[:, 0] = window start, t[:, n+1] = window end
    t[row, col] = tl.t_s[ev]
    end = days * 86400.0
    t[np.arange(B), n_ev + 1] = end
    valid = np.arange(L)[None, :] <= n_ev[:, None]
    is_event = np.arange(L)[None, :] < n_ev[:, None]
    u = t + offset_s
    k = np.zeros(B, np.int64) if chronotype is None else np.asarray(chronotype, np.int64)[users]
    k_t = torch.from_numpy(k)[:, None]
    lam = clock.compensator(u, k_t).numpy()
    gap = np.maximum(np.diff(lam, axis=1), MIN_GAP)  # [B, L] gap from step i's event to next
    gap = np.where(valid, gap, 1.0)

    def grid(values: np.ndarray, fill, dtype) -> np.ndarray:
        out = np.full((B, L + 1), fill, dtype)
        out[row, col] = values[ev]
        return out

    kind = grid(kind_of(tl.event, tl.direction), START_KIND, np.int64)
    outcome = grid(outcome_of(tl.duration_s, tl.answered), OUTCOME_ZERO, np.int64)
    dur = grid(tl.duration_s.astype(np.float64), 0.0, np.float64)
    answered = grid(tl.answered.astype(np.float64), 1.0, np.float64)
    rank = grid(tl.contact_rank.astype(np.int64), CONTACT_NONE, np.int64)
    gap_in = np.concatenate([np.zeros((B, 1)), np.log(gap[:, :-1])], 1)
    rank_next = np.where(rank[:, 1:] < 0, -1, np.minimum(rank[:, 1:], max_rank - 1))
    if activity is None:
        anchor = np.zeros((B, L))
    else:  # step i has read i events; expected: activity x rescaled days since the window start
        expected = np.asarray(activity, np.float64)[users, None] * (lam[:, :L] - lam[:, :1]) / 86400.0
        anchor = np.where(valid, count_anchor(np.arange(L, dtype=np.float64)[None, :], expected), 0.0)
    f32 = torch.float32
    return StepBatch(
        kind=torch.from_numpy(kind[:, :L]), gap_in=torch.tensor(gap_in, dtype=f32),
        dur_in=torch.tensor(np.log1p(dur[:, :L]), dtype=f32),
        answered_in=torch.tensor(answered[:, :L], dtype=f32),
        rank_in=torch.from_numpy(rank_bucket(rank[:, :L], max_rank)),
        clock_in=clock_features(u[:, :L]), gap=torch.from_numpy(gap),
        log_jac=torch.tensor(np.where(is_event, clock.log_rate(u[:, 1:], k_t).numpy(), 0.0), dtype=f32),
        clock_next=clock_features(u[:, 1:]),
        kind_next=torch.from_numpy(np.where(is_event, kind[:, 1:], 0)),
        outcome_next=torch.from_numpy(np.where(is_event, outcome[:, 1:], OUTCOME_ZERO)),
        dur_next=torch.tensor(dur[:, 1:], dtype=f32),
        rank_next=torch.from_numpy(np.where(is_event, rank_next, -1)),
        valid=torch.from_numpy(valid), is_event=torch.from_numpy(is_event),
        anchor=torch.tensor(anchor, dtype=f32),
        profile=torch.tensor(profile[users], dtype=f32),
        n_contacts=torch.from_numpy(np.asarray(n_contacts, np.int64)[users]))
