"""The LSTM marked temporal point process: one network, its heads and its log-likelihood.

Per step the LSTM reads the event just seen (kind = event x direction, log rescaled gap,
log duration, answered, contact-rank bucket), the clock at that event, the user profile (with
the user's chronotype, one-hot) and, with ``anchor=True``, the count anchor: how far the user's
events so far are ahead of or behind their profile's rate (``tokenizer.count_anchor``).
From the hidden state ``h`` the heads predict the next event:

* **time**: a mixture of log-normals over the *rescaled* gap (intensity-free TPP, Shchur et al.,
  ICLR 2020), turned into real seconds through the weekly clock (see ``tokenizer.py``);
* **marks**, given ``h``, the clock at the next event and its gap: the kind (categorical); the
  outcome of a call or data session (missed / zero length / positive length); the log
  duration of positive ones (mixture of normals, given the kind); the contact rank
  (categorical over the user's contacts, masked by the profile's number of contacts).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from zen.traffic.tokenizer import N_CLOCK, N_KINDS, OUTCOME_POSITIVE, StepBatch

HEADS = ("time", "kind", "outcome", "duration", "rank")
_DP_KEY = re.compile(r"^lstm\.l(?P<l>\d+)\.(?P<g>ih|hh)\.(?P<p>weight|bias)$")  # DPLSTM's own names
_LSTM_KEY = re.compile(r"^lstm\.(?P<p>weight|bias)_(?P<g>ih|hh)_l(?P<l>\d+)$")  # nn.LSTM's names
SMS_KINDS = (2, 3)  # kind codes of sms/out, sms/in
DATA_OUT, DATA_IN = 4, 5  # data sessions; data/in is not a real event and is never sampled


def mixture_log_prob(params: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Log density of ``y`` under a mixture of normals. params ``[..., 3M]``, y ``[...]``."""
    logits, mu, log_sigma = params.chunk(3, -1)
    log_sigma = log_sigma.clamp(-5.0, 3.0)
    z = (y.unsqueeze(-1) - mu) * torch.exp(-log_sigma)
    comp = -0.5 * z * z - log_sigma - 0.5 * math.log(2 * math.pi)
    return torch.logsumexp(F.log_softmax(logits, -1) + comp, -1)


def mixture_log_survival(params: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``log P(Y > y)`` under a mixture of normals. params ``[..., 3M]``, y ``[...]``."""
    logits, mu, log_sigma = params.chunk(3, -1)
    z = (y.unsqueeze(-1) - mu) * torch.exp(-log_sigma.clamp(-5.0, 3.0))
    return torch.logsumexp(F.log_softmax(logits, -1) + torch.special.log_ndtr(-z), -1)


def categorical_sample(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One class per row of ``probs`` ``[B, K]`` -> ``[B]`` int64, by inverse transform: one uniform
    per row against the row's cumulative sums. An exact draw from ``probs`` (up to float32
    rounding, as any float32 sampler), with one random number per row where
    ``torch.multinomial`` draws one per class (its exponential race), and no validity checks
    (they read the tensor three more times and wait for the device on CUDA): at 50,000 rows
    and 24 classes ~9x faster, ~15 % of the sampler. ``probs`` comes from a softmax here."""
    cum = probs.cumsum(-1)
    u = torch.rand((*probs.shape[:-1], 1), generator=generator, device=probs.device, dtype=probs.dtype)
    return (cum < u * cum[..., -1:]).sum(-1)


def mixture_sample(params: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw per row from a mixture of normals. params ``[B, 3M]`` -> ``[B]``."""
    logits, mu, log_sigma = params.chunk(3, -1)
    comp = categorical_sample(F.softmax(logits, -1), generator)[:, None]  # [B, 1]
    noise = torch.randn(comp.shape, generator=generator, device=params.device, dtype=params.dtype)
    return (mu.gather(-1, comp) + torch.exp(log_sigma.clamp(-5.0, 3.0).gather(-1, comp)) * noise)[:, 0]


class TrafficLSTM(nn.Module):
    """LSTM over a user's events with a time head and mark heads.

    Args:
        profile_dim: length of the (standardised) user profile.
        hidden: LSTM hidden size; layers: LSTM layers.
        n_mix: mixture components of the time and duration heads.
        max_rank: contact-rank classes (the last one holds the tail).
        mark_hidden: width of the layer shared by the mark heads.
        kind_emb, rank_emb: embedding sizes.
        anchor: read the count anchor (LSTM input and time head).
        ticks: one more input token, the tick (a silence of ``tick_s``; see ``encode_users``).
        dp: use Opacus's ``DPLSTM`` (per-sample gradients for DP-SGD) instead of ``nn.LSTM``;
            same maths and the same state_dict keys, so either loads the other's weights.
    """

    def __init__(self, profile_dim: int, hidden: int = 64, layers: int = 2, n_mix: int = 8,
                 max_rank: int = 24, mark_hidden: int = 64, kind_emb: int = 8, rank_emb: int = 4,
                 anchor: bool = False, ticks: bool = False, dp: bool = False):
        super().__init__()
        self.max_rank = max_rank
        self.anchor = anchor
        self.kind_emb = nn.Embedding(N_KINDS + 1 + int(ticks), kind_emb)  # + start (+ tick) token
        self.rank_emb = nn.Embedding(max_rank + 1, rank_emb)  # + none
        in_dim = kind_emb + rank_emb + 3 + N_CLOCK + profile_dim + int(anchor)
        if dp:
            from opacus.layers import DPLSTM

            self.lstm = DPLSTM(in_dim, hidden, layers, batch_first=True)
        else:
            self.lstm = nn.LSTM(in_dim, hidden, layers, batch_first=True)
        self.time_head = nn.Linear(hidden + profile_dim + int(anchor), 3 * n_mix)
        self.mark_trunk = nn.Sequential(nn.Linear(hidden + N_CLOCK + 1 + profile_dim, mark_hidden),
                                        nn.Tanh())
        self.kind_head = nn.Linear(mark_hidden, N_KINDS)
        self.outcome_head = nn.Linear(mark_hidden + N_KINDS, 3)
        self.duration_head = nn.Linear(mark_hidden + N_KINDS, 3 * n_mix)
        self.rank_head = nn.Linear(mark_hidden + N_KINDS, max_rank)
        # kinds the model may emit: set by the fit to the kinds its training data has (data/in never)
        allowed = torch.ones(N_KINDS, dtype=torch.bool)
        allowed[DATA_IN] = False
        self.register_buffer("kind_allowed", allowed)

    def weights(self) -> dict[str, torch.Tensor]:
        """The state dict in ``nn.LSTM`` key names (a ``DPLSTM`` lists each weight twice, under
        its own and the ``nn.LSTM`` name), on CPU: what checkpoints hold."""
        return {k: v.detach().cpu() for k, v in self.state_dict().items() if not _DP_KEY.match(k)}

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Load a state dict of a DP or non-DP network (either key naming, with or without
        Opacus's ``_module.`` prefix) into this one."""
        state = {k.removeprefix("_module."): v for k, v in state.items()}
        canonical = {}
        for k, v in state.items():
            m = _DP_KEY.match(k)
            canonical[f"lstm.{m['p']}_{m['g']}_l{m['l']}" if m else k] = v
        if isinstance(self.lstm, nn.LSTM):
            self.load_state_dict(canonical)
            return
        aliases = {f"lstm.l{m['l']}.{m['g']}.{m['p']}": v for k, v in canonical.items()
                   if (m := _LSTM_KEY.match(k))}
        self.load_state_dict({**canonical, **aliases})

    def init_weights(self, generator: torch.Generator) -> None:
        """Seeded initialisation (no global RNG): uniform(+-1/sqrt(fan_in)), embeddings N(0, 1);
        mixture means spread over [-2, 2] (inputs are standardised)."""
        for name, p in self.named_parameters():
            with torch.no_grad():
                if "emb" in name:
                    p.normal_(0.0, 1.0, generator=generator)
                elif name.endswith("bias") and "lstm" not in name:
                    p.zero_()
                else:
                    fan_in = p.shape[1] if p.dim() == 2 else self.lstm.hidden_size
                    bound = 1.0 / math.sqrt(fan_in)
                    p.uniform_(-bound, bound, generator=generator)
        with torch.no_grad():
            for head in (self.time_head, self.duration_head):
                m = head.out_features // 3
                head.bias[m:2 * m] = torch.linspace(-2.0, 2.0, m)

    def step_inputs(self, kind: torch.Tensor, gap_in: torch.Tensor, dur_in: torch.Tensor,
                    answered_in: torch.Tensor, rank_in: torch.Tensor, clock_in: torch.Tensor,
                    profile: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        """LSTM input of each step. All ``[B, L]`` (clock ``[B, L, 6]``, profile ``[B, P]``)
        -> ``[B, L, in_dim]``."""
        prof = profile.unsqueeze(1).expand(-1, kind.shape[1], -1)
        scalars = [gap_in / 4.0, dur_in / 4.0, answered_in] + ([anchor] if self.anchor else [])
        return torch.cat([self.kind_emb(kind), self.rank_emb(rank_in), torch.stack(scalars, -1),  # O(1)
                          clock_in, prof], -1)

    def forward(self, batch: StepBatch, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Hidden states ``[B, L, H]`` of a chunk and the state to carry to the next chunk."""
        x = self.step_inputs(batch.kind, batch.gap_in, batch.dur_in, batch.answered_in,
                             batch.rank_in, batch.clock_in, batch.profile, batch.anchor)
        return self.lstm(x, state)

    def time_params(self, h: torch.Tensor, profile: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        """Mixture parameters of the standardised log rescaled gap. h ``[..., H]``, anchor
        ``[...]`` -> ``[..., 3M]``."""
        parts = [h, profile.expand(*h.shape[:-1], -1)] + ([anchor.unsqueeze(-1)] if self.anchor else [])
        return self.time_head(torch.cat(parts, -1))

    def mark_features(self, h: torch.Tensor, clock_next: torch.Tensor, log_gap_std: torch.Tensor,
                      profile: torch.Tensor) -> torch.Tensor:
        """Shared mark features ``[..., mark_hidden]`` given the next event's clock and gap."""
        prof = profile.expand(*h.shape[:-1], -1)
        return self.mark_trunk(torch.cat([h, clock_next, log_gap_std.unsqueeze(-1), prof], -1))

    def kind_logits(self, m: torch.Tensor) -> torch.Tensor:
        return self.kind_head(m).masked_fill(~self.kind_allowed, -1e9)

    def given_kind(self, m: torch.Tensor, kind: torch.Tensor) -> torch.Tensor:
        return torch.cat([m, F.one_hot(kind, N_KINDS).to(m.dtype)], -1)

    def rank_logits(self, mk: torch.Tensor, n_contacts: torch.Tensor) -> torch.Tensor:
        """Rank logits masked to ranks below the user's number of contacts. ``[..., max_rank]``."""
        allowed = torch.arange(self.max_rank, device=mk.device) < n_contacts.unsqueeze(-1)
        return self.rank_head(mk).masked_fill(~allowed, -1e9)

    def nll(self, batch: StepBatch, h: torch.Tensor, scalers: dict[str, float],
            weight: torch.Tensor | None = None, per_user: bool = False) -> dict[str, torch.Tensor]:
        """Summed negative log-likelihood (nats) of each head over a chunk's valid steps.

        ``weight`` ``[B]`` multiplies each user's terms (DP-SGD's per-user loss); ``per_user``
        returns ``[B]`` sums per user instead of scalars.
        Time: density of the real gap in seconds (rescaled density x lambda0) for event steps,
        survival to the window end for last steps. Duration: density in seconds.
        """
        prof = batch.profile.unsqueeze(1)
        t_loc, t_scale = scalers["gap_loc"], scalers["gap_scale"]
        log_gap = torch.log(batch.gap).float()
        y = (log_gap - t_loc) / t_scale
        tp = self.time_params(h, prof, batch.anchor)
        log_dens = mixture_log_prob(tp, y) - math.log(t_scale) - log_gap + batch.log_jac
        ll_time = torch.where(batch.is_event, log_dens, mixture_log_survival(tp, y))
        ev = batch.is_event
        m = self.mark_features(h, batch.clock_next, y, prof)
        ll_kind = -F.cross_entropy(self.kind_logits(m).transpose(1, 2), batch.kind_next, reduction="none")
        mk = self.given_kind(m, batch.kind_next)
        has_outcome = ev & (batch.kind_next != SMS_KINDS[0]) & (batch.kind_next != SMS_KINDS[1])
        ll_out = -F.cross_entropy(self.outcome_head(mk).transpose(1, 2), batch.outcome_next,
                                  reduction="none")
        positive = ev & (batch.outcome_next == OUTCOME_POSITIVE)
        log_d = torch.log(batch.dur_next.clamp_min(1e-3))
        yd = (log_d - scalers["dur_loc"]) / scalers["dur_scale"]
        ll_dur = mixture_log_prob(self.duration_head(mk), yd) - math.log(scalers["dur_scale"]) - log_d
        has_rank = ev & (batch.rank_next >= 0)
        ll_rank = -F.cross_entropy(self.rank_logits(mk, batch.n_contacts.unsqueeze(1)).transpose(1, 2),
                                   batch.rank_next.clamp_min(0), reduction="none")
        masks = {"time": batch.valid, "kind": ev, "outcome": has_outcome, "duration": positive,
                 "rank": has_rank}
        lls = {"time": ll_time, "kind": ll_kind, "outcome": ll_out, "duration": ll_dur, "rank": ll_rank}
        out = {k: -(torch.where(masks[k], lls[k], torch.zeros_like(lls[k]))).sum(1) for k in HEADS}  # [B]
        if weight is not None:
            out = {k: v * weight for k, v in out.items()}
        return out if per_user else {k: v.sum() for k, v in out.items()}
