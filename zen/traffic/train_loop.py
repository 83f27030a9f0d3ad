"""Training the traffic LSTM: truncated BPTT over whole user timelines, resumable.

Users are sorted by length and grouped into batches of ``batch_size`` users (little padding);
each batch is cut into chunks of ``bptt`` steps and the LSTM state is carried, detached, from
one chunk to the next, so timelines of any length train without fixed windows. One optimizer
step per chunk. The batch order is shuffled per epoch by a generator seeded with
``(seed, epoch)``, so a resumed run replays exactly the epochs an uninterrupted one would.

Checkpoints (``work_dir/checkpoints/last.pt``, written atomically at the end of each epoch)
hold weights, optimizer, scheduler, epoch, step, early-stopping state and the best weights.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.io.model_files import load_tensors, save_tensors
from zen.schema import ZenInputError
from zen.traffic.network import HEADS, TrafficLSTM
from zen.traffic.tokenizer import StepBatch

log = logging.getLogger("zen.train")

CHECKPOINT = "last.pt"


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to 10% of the peak learning rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate_nll(net: TrafficLSTM, batches: list[StepBatch], scalers: dict[str, float],
                 device: torch.device) -> dict[str, float]:
    """NLL per event (nats) of each head and their total over ``batches`` (whole timelines)."""
    net.eval()
    sums = dict.fromkeys(HEADS, 0.0)
    events = 0
    for batch in batches:
        batch = batch.to(device)
        h, _ = net(batch)
        for k, v in net.nll(batch, h, scalers).items():
            sums[k] += float(v)
        events += int(batch.is_event.sum())
    out = {k: v / max(events, 1) for k, v in sums.items()}
    out["total"] = sum(out[k] for k in HEADS)
    return out


def _chunks(batch: StepBatch, bptt: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + bptt, batch.length)) for lo in range(0, batch.length, bptt)]


def train(net: TrafficLSTM, train_batches: list[StepBatch], val_batches: list[StepBatch],
          scalers: dict[str, float], trainer: dict[str, Any], work_dir: Path, device: torch.device,
          seed: int, resume: bool = False, writer=None,
          on_eval: Callable[[int], None] | None = None) -> dict[str, float]:
    """Fit ``net`` with AdamW on the summed NLL of all heads; early-stop on validation NLL.

    Args:
        trainer: ``max_epochs``, ``max_steps`` (None = no limit), ``lr``, ``weight_decay``,
            ``grad_clip``, ``patience`` (epochs), ``eval_every`` (epochs), ``amp``, and
            optionally ``bptt`` (steps per chunk, default 128) and ``warmup`` (steps, default 20).
        work_dir: checkpoints go to ``work_dir/checkpoints``.
        writer: a TensorBoard ``SummaryWriter`` or None.
        on_eval: called with the epoch every ``eval_every`` epochs (figures, metrics).

    Returns:
        ``train/nll`` (last epoch), ``val/nll`` (best), ``epochs``, ``steps`` and ``history``
        (per epoch ``{"train": nll, "val": nll}``, nats per event).
    """
    bptt = int(trainer.get("bptt", 128))
    max_epochs = int(trainer["max_epochs"])
    max_steps = trainer.get("max_steps") or None
    per_epoch = sum(len(_chunks(b, bptt)) for b in train_batches)
    total = min(max_epochs * per_epoch, int(max_steps) if max_steps else 1 << 62)
    optimizer = torch.optim.AdamW(net.parameters(), lr=float(trainer["lr"]),
                                  weight_decay=float(trainer["weight_decay"]))
    warmup = int(trainer.get("warmup", 20))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup))
    use_amp = bool(trainer.get("amp", False)) and device.type == "cuda"
    state = {"epoch": 0, "step": 0, "best_val": float("inf"), "bad_epochs": 0, "best_model": None,
             "done": False, "train_nll": float("nan"), "history": []}
    ckpt_path = Path(work_dir) / "checkpoints" / CHECKPOINT
    if resume and ckpt_path.exists():
        ckpt = load_tensors(ckpt_path, map_location=device)
        try:
            net.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ZenInputError("the checkpoint does not fit this model and trainer; resume with the "
                                "config it was trained with, or start afresh without resume=true",
                                str(ckpt_path)) from err
        state = ckpt["state"]
    val_batches = val_batches or []
    while not state["done"] and state["epoch"] < max_epochs:
        epoch, t_epoch = state["epoch"], time.perf_counter()
        net.train()
        sums, events, grad_norms = dict.fromkeys(HEADS, 0.0), 0, []
        order = np.random.default_rng([seed, epoch]).permutation(len(train_batches))
        for b in order:
            batch, carry = train_batches[b].to(device), None
            for lo, hi in _chunks(batch, bptt):
                chunk = batch.chunk(lo, hi)
                n_ev = int(chunk.is_event.sum())
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                    h, carry = net(chunk, carry)
                    parts = net.nll(chunk, h.float(), scalers)
                loss = sum(parts.values()) / max(int(chunk.valid.sum()), 1)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(),
                                                                       float(trainer["grad_clip"]))))
                optimizer.step()
                scheduler.step()
                carry = tuple(s.detach() for s in carry)
                for k, v in parts.items():
                    sums[k] += float(v.detach())
                events += n_ev
                state["step"] += 1
                if writer is not None:
                    writer.add_scalar("train/grad_norm", grad_norms[-1], state["step"])
                    writer.add_scalar("train/lr", scheduler.get_last_lr()[0], state["step"])
                if max_steps and state["step"] >= int(max_steps):
                    break
            if max_steps and state["step"] >= int(max_steps):
                state["done"] = True
                break
        train_nll = {k: v / max(events, 1) for k, v in sums.items()}
        state["train_nll"] = sum(train_nll.values())
        val_nll = evaluate_nll(net, val_batches, scalers, device) if val_batches else None
        score = val_nll["total"] if val_nll else state["train_nll"]
        if score < state["best_val"] - 1e-4:
            state["best_val"], state["bad_epochs"] = score, 0
            state["best_model"] = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            state["bad_epochs"] += 1
            if state["bad_epochs"] >= int(trainer["patience"]):
                state["done"] = True
        state["epoch"] = epoch + 1
        state["history"].append({"train": state["train_nll"], "val": val_nll["total"] if val_nll else None})
        log.info("epoch %d/%d: train nll %.4f, val nll %s (best %.4f), %d steps, %.1f s", state["epoch"],
                 max_epochs, state["train_nll"], f"{val_nll['total']:.4f}" if val_nll else "-",
                 state["best_val"], state["step"], time.perf_counter() - t_epoch)
        if writer is not None:
            _log_epoch(writer, net, train_nll, val_nll, grad_norms, state["epoch"])
        if on_eval is not None and int(trainer.get("eval_every", 0)) > 0 \
                and state["epoch"] % int(trainer["eval_every"]) == 0:
            on_eval(state["epoch"])
        _save_checkpoint(ckpt_path, net, optimizer, scheduler, state)
    if state["best_model"] is not None:
        net.load_state_dict(state["best_model"])
    return {"train/nll": state["train_nll"], "val/nll": state["best_val"],
            "epochs": float(state["epoch"]), "steps": float(state["step"]), "history": state["history"]}


def _save_checkpoint(path: Path, net, optimizer, scheduler, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_tensors({"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "state": state}, path)


def _log_epoch(writer, net: TrafficLSTM, train_nll: dict[str, float], val_nll: dict[str, float] | None,
               grad_norms: list[float], epoch: int) -> None:
    for k, v in train_nll.items():
        writer.add_scalar(f"train/nll_{k}", v, epoch)
    writer.add_scalar("train/nll", sum(train_nll.values()), epoch)
    if val_nll:
        for k, v in val_nll.items():
            writer.add_scalar(f"val/nll_{k}" if k != "total" else "val/nll", v, epoch)
    if grad_norms:
        writer.add_scalar("train/grad_norm_epoch_mean", float(np.mean(grad_norms)), epoch)
    for name, p in net.named_parameters():
        writer.add_histogram(f"params/{name}", p.detach().cpu(), epoch)
