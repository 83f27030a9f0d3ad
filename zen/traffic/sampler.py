"""Lock-step sampling of whole populations from the traffic LSTM.

All users advance together as rows of one batch: per step the LSTM reads every active user's
last event, draws the next gap (rescaled seconds -> real seconds through the weekly clock),
and users whose next event falls after the horizon leave the batch at once. The batch
therefore shrinks as users finish and the total cost follows the number of events sampled,
not users x steps. No Python loop runs per user or per event.
"""

from __future__ import annotations

import numpy as np
import torch

from zen.traffic.network import DATA_OUT, SMS_KINDS, TrafficLSTM, categorical_sample, mixture_sample
from zen.traffic.timeline import CONTACT_NONE, Timelines
from zen.traffic.tokenizer import (
    MIN_GAP,
    OUTCOME_MISSED,
    OUTCOME_POSITIVE,
    START_KIND,
    TICK_KIND,
    WeeklyClock,
    clock_features,
    count_anchor,
)

LSTM_ROWS = 64  # the LSTM step runs on a multiple of this many rows (see _lstm_step)
LSTM_BLOCK = 1024  # on CPU the LSTM step runs in blocks of this many rows (a multiple of LSTM_ROWS)


def _padded(b: int) -> int:
    return b + (-b % LSTM_ROWS)


def _lstm_step(lstm: torch.nn.Module, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
               ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """One LSTM step of ``x`` ``[B, 1, D]`` on a multiple of ``LSTM_ROWS`` rows: the batch shrinks at
    most steps, and oneDNN's CPU LSTM sets up anew for each new batch size (padded, sampling 20k
    users x 7 days takes ~0.8x the time, experiments/scale.md). ``x`` is padded with zero rows;
    ``state`` is kept padded (``[layers, rows, H]``, rows >= B: its rows past B are filler) and is
    returned so. On CPU a large batch runs in blocks of ``LSTM_BLOCK`` rows, whose gates stay in
    the core's cache (at 50,000 rows one call costs ~2x per row what 1,024-row blocks do). Each
    row's result is the same as unpadded and unblocked (rows are independent;
    tests/test_sampler_identity.py)."""
    b = x.shape[0]
    rows = _padded(b) if state is None else state[0].shape[1]
    if rows > b:
        x = torch.cat([x, x.new_zeros(rows - b, *x.shape[1:])])
    if rows <= LSTM_BLOCK or x.device.type != "cpu":
        h, state = lstm(x, state)
        return h[:b], state
    fresh, out = state is None, None  # fresh: the first step, zero state (None to the LSTM)
    for lo in range(0, rows, LSTM_BLOCK):
        hi = min(rows, lo + LSTM_BLOCK)
        h, block = lstm(x[lo:hi], None if fresh else (state[0][:, lo:hi], state[1][:, lo:hi]))
        if out is None:
            out = h.new_empty(rows, *h.shape[1:])
            if fresh:
                state = tuple(s.new_empty(s.shape[0], rows, s.shape[2]) for s in block)
        out[lo:hi] = h  # in place: each block's rows are read before they are overwritten
        state[0][:, lo:hi] = block[0]
        state[1][:, lo:hi] = block[1]
    return out[:b], state


def _keep_state(state: tuple[torch.Tensor, torch.Tensor], keep: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The padded LSTM state of the rows ``keep``, padded again (filler: copies of the first kept row)."""
    pad = -keep.numel() % LSTM_ROWS
    index = torch.cat([keep, keep[:1].expand(pad)]) if pad else keep
    return tuple(s[:, index] for s in state)


@torch.inference_mode()
def sample_population(net: TrafficLSTM, clock: WeeklyClock, profile: torch.Tensor,
                      n_contacts: torch.Tensor, scalers: dict[str, float], horizon_s: float,
                      offset_s: float, generator: torch.Generator, chronotype: torch.Tensor | None = None,
                      activity: torch.Tensor | None = None, tick_s: float | None = None,
                      max_events: torch.Tensor | None = None) -> Timelines:
    """Sample every user's events in ``[0, horizon_s)`` seconds.

    Args:
        net: the trained network, in eval mode.
        clock: the chronotype clocks, on the network's device.
        profile: ``[n, P]`` standardised profiles; n_contacts: ``[n]`` int64 (>= 1).
        chronotype: ``[n]`` int64 clock of each user (None: clock 0 for all).
        activity: ``[n]`` profile events/day, for the count anchor (None: anchor 0).
        tick_s: a drawn gap longer than this (rescaled seconds) stops at it with a tick, no
            event, and the next gap is drawn from there (the model was trained so; None: never).
        max_events: ``[n]`` events after which a user stops (None: no bound). A runaway model
            (one whose gaps collapse to the minimum) would otherwise sample millions of events
            and never finish; the caller warns when a user reaches the bound.
        horizon_s: length of the period (seconds); offset_s: seconds from the Monday 00:00
            before the period start to the start.
        generator: a seeded ``torch.Generator`` on the network's device.

    Returns:
        Timelines sorted by (user, t_s); ``user`` indexes the rows of ``profile``. Times and
        durations are whole seconds, the resolution of CDRs (and of the training data).
    """
    device = profile.device
    n = profile.shape[0]
    idx = torch.arange(n, device=device)
    u = torch.full((n,), float(offset_s), dtype=torch.float64, device=device)  # s since Monday
    chrono = torch.zeros(n, dtype=torch.long, device=device) if chronotype is None else chronotype.long()
    lam = clock.compensator(u, chrono)
    # count anchor: events so far vs profile events per rescaled second since the start
    rate = torch.zeros(n, dtype=torch.float64, device=device) if activity is None else \
        activity.to(torch.float64) / 86400.0
    lam0, count = lam.clone(), torch.zeros(n, dtype=torch.float64, device=device)
    cap = torch.full((n,), float("inf"), dtype=torch.float64, device=device) if max_events is None \
        else max_events.to(torch.float64)
    kind = torch.full((n,), START_KIND, dtype=torch.long, device=device)
    gap_in = torch.zeros(n, device=device)
    dur_in = torch.zeros(n, device=device)
    ans_in = torch.ones(n, device=device)
    rank_in = torch.full((n,), net.max_rank, dtype=torch.long, device=device)
    state = None
    end = float(offset_s) + float(horizon_s)
    prof, contacts, clock_in = profile, n_contacts, clock_features(u).to(device)
    names = ("user", "u", "kind", "outcome", "dur", "rank") + (() if tick_s is None else ("emit",))
    out: dict[str, list[torch.Tensor]] = {k: [] for k in names}
    while idx.numel() > 0:
        anchor = (count_anchor(count, rate * (lam - lam0)) if activity is not None
                  else torch.zeros_like(count)).float()
        x = net.step_inputs(kind[:, None], gap_in[:, None], dur_in[:, None], ans_in[:, None],
                            rank_in[:, None], clock_in[:, None], prof, anchor[:, None])
        h, state = _lstm_step(net.lstm, x, state)
        h = h[:, 0]
        y = mixture_sample(net.time_params(h, prof, anchor), generator)  # standardised log gap
        gap = torch.exp(y.double() * scalers["gap_scale"] + scalers["gap_loc"]).clamp_min(MIN_GAP)
        if tick_s is not None:
            tick = gap > tick_s
            gap = torch.where(tick, torch.full_like(gap, tick_s), gap)
        lam = lam + gap
        u = clock.inverse(lam, chrono)
        keep = ((u < end) & (count < cap)).nonzero()[:, 0]  # the step's one host synchronisation
        if keep.numel() < idx.numel():
            idx, h, lam, u, prof, gap, y, chrono, rate, lam0, count, cap, contacts = (
                v[keep] for v in (idx, h, lam, u, prof, gap, y, chrono, rate, lam0, count, cap, contacts))
            if tick_s is not None:
                tick = tick[keep]
            if idx.numel() == 0:
                break
            state = _keep_state(state, keep)
        y = ((torch.log(gap) - scalers["gap_loc"]) / scalers["gap_scale"]).float()
        clock_in = clock_features(u).to(device)  # the next event's clock: mark heads now, LSTM next step
        m = net.mark_features(h, clock_in, y, prof)
        kind = categorical_sample(torch.softmax(net.kind_logits(m), -1), generator)
        mk = net.given_kind(m, kind)
        outcome = categorical_sample(torch.softmax(net.outcome_head(mk), -1), generator)
        is_sms = (kind == SMS_KINDS[0]) | (kind == SMS_KINDS[1])
        outcome = torch.where(is_sms, torch.ones_like(outcome), outcome)
        log_d = mixture_sample(net.duration_head(mk), generator) * scalers["dur_scale"] + scalers["dur_loc"]
        # CDRs count whole seconds: positive durations round to >= 1 s
        dur = torch.where(outcome == OUTCOME_POSITIVE, torch.exp(log_d).round().clamp_min(1.0),
                          torch.zeros_like(log_d))
        rank_logits = net.rank_logits(mk, contacts)
        rank = categorical_sample(torch.softmax(rank_logits, -1), generator)
        is_data = kind == DATA_OUT
        rank = torch.where(is_data, torch.full_like(rank, CONTACT_NONE), rank)
        for k, v in (("user", idx), ("u", u), ("kind", kind), ("outcome", outcome), ("dur", dur),
                     ("rank", rank)) + (() if tick_s is None else (("emit", ~tick),)):
            out[k].append(v)  # tick steps are dropped once at the end, not per step (a sync on CUDA)
        gap_in, dur_in = torch.log(gap).float(), torch.log1p(dur)
        ans_in = (outcome != OUTCOME_MISSED).float()
        rank_in = torch.where(rank < 0, torch.full_like(rank, net.max_rank), rank)
        if tick_s is None:
            count = count + 1.0
        else:  # a tick reads as the tick token, no duration, no contact; the count stays
            kind = torch.where(tick, torch.full_like(kind, TICK_KIND), kind)
            dur_in = torch.where(tick, torch.zeros_like(dur_in), dur_in)
            ans_in = torch.where(tick, torch.ones_like(ans_in), ans_in)
            rank_in = torch.where(tick, torch.full_like(rank_in, net.max_rank), rank_in)
            count = count + (~tick).double()
    return _to_timelines(out, offset_s)


def _to_timelines(out: dict[str, list[torch.Tensor]], offset_s: float) -> Timelines:
    cat = {k: (torch.cat(v).cpu().numpy() if v else np.zeros(0)) for k, v in out.items()}
    emit = cat.pop("emit", None)
    if emit is not None:
        cat = {k: v[emit.astype(bool)] for k, v in cat.items()}
    kind = cat["kind"].astype(np.int64)
    outcome = cat["outcome"].astype(np.int64)
    tl = Timelines(
        user=cat["user"].astype(np.int64), t_s=np.floor(cat["u"] - offset_s).astype(np.float64),
        event=(kind // 2).astype(np.int8), direction=(kind % 2).astype(np.int8),
        duration_s=cat["dur"].astype(np.float32), answered=outcome != OUTCOME_MISSED,
        contact_rank=cat["rank"].astype(np.int16),
        volume_bytes=np.full(len(kind), -1, np.int64))
    return tl.sorted()
