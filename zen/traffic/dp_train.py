"""User-level DP-SGD for the traffic LSTM, with Opacus (Abadi et al., CCS 2016).

Opacus is a maintained library made for DP-SGD in PyTorch: it computes per-sample gradients
(``GradSampleModule``; ``DPLSTM`` for the recurrent layer), clips them, adds Gaussian noise
(``DPOptimizer``) and accounts for the privacy spent (RDP / PRV / GDP accountants). What Zen
adds is the **privacy unit: one sample = one user**, not one event or one window:

* each step samples users by Poisson sampling with rate ``q`` (each training user is in the
  step with probability ``q``, independently: the sampling the accountant assumes);
* a sampled user's *whole* timeline is read, in truncated-BPTT chunks of ``bptt`` steps as in
  the non-private loop; the per-sample gradients of all the user's chunks are **summed** into
  one gradient per user before Opacus clips it to ``max_grad_norm`` (Opacus alone would clip
  every backward pass's rows separately, i.e. per chunk, giving a long timeline more weight);
* a user longer than ``max_user_steps`` contributes a random window of that many steps of
  their timeline (LSTM state from zero at its start) instead of all of it: still one sample
  per user and per step (the window's randomness only adds to the privacy), and the cost of a
  step no longer follows the most active user's thousands of events;
* the user's loss is their mean NLL per step, so light and heavy users weigh alike before
  clipping; noise ``N(0, sigma^2 C^2)`` is added to the sum of clipped gradients and the sum is
  divided by the expected batch ``q * n_users``;
* the accountant records ``(sigma, q)`` per step; training stops before a step would take
  epsilon past the target.

No model selection on validation users (they are real people too): the last iterate is kept.
"""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.io.model_files import save_tensors
from zen.privacy.accountant import epsilon_spent, max_steps_within, noise_for_epsilon
from zen.traffic.network import HEADS, TrafficLSTM
from zen.traffic.tokenizer import StepBatch
from zen.traffic.train_loop import _chunks, evaluate_nll, log, lr_factor

CHECKPOINT = "last_dp.pt"


def plan(dp: dict[str, Any], n_users: int, epochs: float) -> dict[str, float]:
    """Sampling rate, delta, noise multiplier and number of steps of a run.

    ``dp``: ``epsilon`` and/or ``noise_multiplier`` (at least one), ``delta`` (None: 1 / (10 n)),
    ``sample_rate``, ``accountant``. ``epochs``: passes over the users the run may take
    (``steps = ceil(epochs / q)``); with a target epsilon the noise is set so that these steps
    spend it, and with both given the run stops when the target is reached.
    """
    q = float(dp["sample_rate"])
    if not 0 < q <= 1:
        raise ValueError("trainer.dp.sample_rate must be in (0, 1]")
    delta = float(dp["delta"]) if dp.get("delta") is not None else 1.0 / (10 * n_users)
    if delta > 1.0 / n_users:
        raise ValueError(f"trainer.dp.delta={delta:g} is above 1/n_users = {1.0 / n_users:g}")
    steps = max(1, math.ceil(epochs / q))
    accountant = str(dp.get("accountant", "rdp"))
    target = dp.get("epsilon")
    sigma = dp.get("noise_multiplier")
    if sigma is None and target is None:
        raise ValueError("DP training needs trainer.dp.epsilon or trainer.dp.noise_multiplier")
    if sigma is None:
        sigma = noise_for_epsilon(float(target), delta, q, steps, accountant)
    sigma = float(sigma)
    if target is not None:
        steps = max_steps_within(float(target), sigma, q, delta, steps, accountant)
    return {"sample_rate": q, "delta": delta, "noise_multiplier": sigma, "steps": int(steps),
            "target_epsilon": None if target is None else float(target), "accountant": accountant,
            "max_grad_norm": float(dp["max_grad_norm"])}


def _noise_generator(secure: bool, seed: int, step: int, device: torch.device) -> torch.Generator:
    """Seeded per step (reproducible, resumable) unless ``secure``: then seeded from OS entropy
    at every step, as a released model needs (an attacker who knows the seed can subtract
    seeded noise). torch's generator is not a CSPRNG: Opacus's ``secure_mode`` (torchcsprng)
    is the stronger option, not wired here."""
    g = torch.Generator(device=device)  # Opacus draws the noise on the parameters' device
    seeded = int(np.random.default_rng([seed, step, 7]).integers(1 << 62))
    g.manual_seed(secrets.randbits(63) if secure else seeded)
    return g


def crop(batch: StepBatch, max_steps: int | None, rng: np.random.Generator) -> StepBatch:
    """Each user's steps cut to a random window of at most ``max_steps`` (users no longer than
    that keep all of theirs). ``[B, L] -> [B, min(L, max_steps)]``."""
    n = batch.valid.sum(1).cpu().numpy()
    if not max_steps or batch.length <= max_steps:
        return batch
    start = np.where(n > max_steps, rng.integers(0, np.maximum(n - max_steps, 0) + 1), 0)
    idx = torch.as_tensor(start[:, None] + np.arange(max_steps)[None, :], device=batch.kind.device)

    def take(v: torch.Tensor) -> torch.Tensor:
        i = idx if v.dim() == 2 else idx.unsqueeze(-1).expand(-1, -1, v.shape[-1])
        return v.gather(1, i)
    return StepBatch(**{k: (take(v) if v.dim() >= 2 and k != "profile" else v)
                        for k, v in batch.__dict__.items()})


def user_gradient_step(gsm, batches: list[StepBatch], weights: list[torch.Tensor],
                       scalers: dict[str, float], bptt: int) -> dict[str, float]:
    """Forward/backward ``batches`` (micro-batches of distinct users) and leave in each
    parameter's ``grad_sample`` one summed gradient per user, ``[users, ...]``.

    Returns the NLL per head summed over the users' events (for logging).
    """
    params = [p for p in gsm.parameters() if p.requires_grad]
    per_user: list[list[torch.Tensor]] = [[] for _ in params]
    sums = dict.fromkeys(HEADS, 0.0)
    for batch, w in zip(batches, weights, strict=True):
        acc: list[torch.Tensor | None] = [None] * len(params)
        carry = None
        for lo, hi in _chunks(batch, bptt):
            chunk = batch.chunk(lo, hi)
            h, carry = gsm(chunk, carry)
            parts = gsm._module.nll(chunk, h, scalers, per_user=True)  # [b] per head
            sum((v * w).sum() for v in parts.values()).backward()
            for i, p in enumerate(params):
                g = p.grad_sample
                g = torch.stack(g).sum(0) if isinstance(g, list) else g
                acc[i] = g[:batch.kind.shape[0]] if acc[i] is None else acc[i] + g[:batch.kind.shape[0]]
                p.grad_sample = None
            carry = tuple(s.detach() for s in carry)
            for k, v in parts.items():
                sums[k] += float(v.detach().sum())
        for i, a in enumerate(acc):
            per_user[i].append(a)
    for p, rows in zip(params, per_user, strict=True):  # no user sampled: one zero row (adds nothing)
        p.grad_sample = torch.cat(rows) if rows else torch.zeros((1, *p.shape), dtype=p.dtype,
                                                                 device=p.device)
    return sums


def train_private(net: TrafficLSTM, encode: Callable[[np.ndarray], StepBatch], lengths: np.ndarray,
                  val_batches: list[StepBatch], scalers: dict[str, float], trainer: dict[str, Any],
                  work_dir: Path, device: torch.device, seed: int, resume: bool = False,
                  writer=None) -> dict[str, Any]:
    """DP-SGD of ``net`` (built with ``dp=True``) over the training users.

    Args:
        encode: step tensors of the given user indices (in that order).
        lengths: ``[n_users]`` valid steps of each user (events + 1).
        trainer: the trainer config; ``trainer["dp"]`` holds the privacy settings, ``lr``,
            ``max_epochs``, ``max_steps``, ``batch_size`` (users per micro-batch), ``bptt``.

    Returns:
        ``train/nll``, ``val/nll`` (last iterate), ``epochs``, ``steps``, ``history`` and
        ``privacy`` (the plan, the steps taken and the accountant's epsilon).
    """
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    # Opacus's hooks warn that the chunk inputs need no gradient (true: only weights do)
    warnings.filterwarnings("ignore", message="Full backward hook is firing")

    dp = dict(trainer["dp"])
    n = len(lengths)
    epochs = float(dp.get("epochs") or trainer["max_epochs"])
    p = plan(dp, n, epochs)
    if trainer.get("max_steps"):
        p["steps"] = min(p["steps"], int(trainer["max_steps"]))
    bptt, micro = int(trainer.get("bptt", 128)), int(trainer["batch_size"])
    secure = bool(dp.get("secure_rng", False))
    gsm = GradSampleModule(net, batch_first=True, loss_reduction="sum")
    inner = torch.optim.Adam(gsm.parameters(), lr=float(dp.get("lr") or trainer["lr"]))
    expected = max(1, round(p["sample_rate"] * n))
    optimizer = DPOptimizer(inner, noise_multiplier=p["noise_multiplier"], max_grad_norm=p["max_grad_norm"],
                            expected_batch_size=expected, loss_reduction="mean",
                            generator=_noise_generator(secure, seed, 0, device))
    warmup = int(trainer.get("warmup", 20))
    scheduler = torch.optim.lr_scheduler.LambdaLR(inner, lambda s: lr_factor(s, p["steps"], warmup))
    max_user_steps = dp.get("max_user_steps")
    state = {"step": 0, "history": [], "sums": dict.fromkeys(HEADS, 0.0), "events": 0}
    ckpt_path = Path(work_dir) / "checkpoints" / CHECKPOINT
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        net.load_weights(ckpt["model"])
        inner.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        state = ckpt["state"]
    per_epoch = max(1, round(1.0 / p["sample_rate"]))
    gsm.train()
    while state["step"] < p["steps"]:
        step = state["step"]
        rng = np.random.default_rng([seed, step])
        users = np.flatnonzero(rng.random(n) < p["sample_rate"])  # Poisson sampling of users
        users = users[np.argsort(np.minimum(lengths[users], max_user_steps or 1 << 62), kind="stable")]
        groups = [users[i:i + micro] for i in range(0, len(users), micro)]
        batches = [crop(encode(g), max_user_steps, rng).to(device) for g in groups]
        weights = [1.0 / b.valid.sum(1).clamp_min(1).float() for b in batches]  # mean NLL per user
        optimizer.generator = _noise_generator(secure, seed, step, device)
        optimizer.zero_grad(set_to_none=True)
        sums = user_gradient_step(gsm, batches, weights, scalers, bptt)
        optimizer.step()
        scheduler.step()
        for k, v in sums.items():
            state["sums"][k] += v
        state["events"] += int(sum(int(b.is_event.sum()) for b in batches))
        state["step"] = step + 1
        if writer is not None:
            writer.add_scalar("train/users_per_step", len(users), state["step"])
            writer.add_scalar("train/lr", scheduler.get_last_lr()[0], state["step"])
        if state["step"] % per_epoch == 0 or state["step"] == p["steps"]:
            train_nll = sum(state["sums"].values()) / max(state["events"], 1)
            state["history"].append({"train": train_nll, "val": None, "step": state["step"]})
            log.info("DP-SGD step %d/%d (epoch %.1f): train nll %.4f", state["step"], p["steps"],
                     state["step"] * p["sample_rate"], train_nll)
            if writer is not None:
                writer.add_scalar("train/nll", train_nll, state["step"])
            state["sums"], state["events"] = dict.fromkeys(HEADS, 0.0), 0
            _save(ckpt_path, net, inner, scheduler, state)
    gsm.eval()
    val = evaluate_nll(net, val_batches, scalers, device)["total"] if val_batches else float("nan")
    eps = epsilon_spent(p["noise_multiplier"], p["sample_rate"], state["step"], p["delta"], p["accountant"])
    train_nll = state["history"][-1]["train"] if state["history"] else float("nan")
    if state["history"] and val_batches:
        state["history"][-1]["val"] = val
    privacy = {**p, "steps_taken": int(state["step"]), "epsilon": eps, "expected_batch_users": expected,
               "secure_rng": secure, "epochs": state["step"] * p["sample_rate"]}
    return {"train/nll": train_nll, "val/nll": val, "epochs": state["step"] * p["sample_rate"],
            "steps": float(state["step"]), "history": state["history"], "privacy": privacy}


def _save(path: Path, net, optimizer, scheduler, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_tensors({"model": net.weights(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "state": state}, path)
