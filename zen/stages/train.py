"""``zen-train``: fit the traffic model, the social graph and the mobility parameters on real
CDRs and write a self-contained model folder that ``zen-generate`` needs (and nothing else)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from zen import SCHEMA_VERSION, __version__
from zen.data import CDRData
from zen.data.check import MIN_TRAIN_USERS
from zen.data.local_time import local_clock
from zen.io import write_json_atomic
from zen.measures.conversations import started_by_user
from zen.schema import ZenInputError
from zen.side_models import fit_side_models, record_side_models
from zen.stages.common import load_real, resolve_device, shared_data_dir
from zen.traffic.base import resolve_kind, save_traffic_model
from zen.traffic.lstm import dp_enabled

log = logging.getLogger("zen.train")


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit every model of Zen on the training users; return final metrics."""
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    model_dir = Path(cfg.model_dir)
    data, split = load_real(cfg.data, keep=("train", "val"))  # the holdout is never read here
    timezone = data.meta.get("timezone", "UTC")
    data = local_clock(data)  # the models learn the users' wall clock (zen.data.local_time)
    if len(split.train) < MIN_TRAIN_USERS:
        raise ZenInputError(
            f"only {len(split.train)} training user(s) after the split; Zen learns a population and "
            f"needs at least {MIN_TRAIN_USERS} (lower data.split.val_fraction/holdout_fraction or "
            f"bring more users)", str(cfg.data.loader.path))
    if not (data.records["counterpart_id"] >= 0).any() and not cfg.data.get("social_from"):
        raise ZenInputError("no record has a counterpart_id, so the social graph cannot be fitted; "
                            "map counterpart_id in the data's column mapping (or set data.social_from "
                            "to data with counterparts, as data=hangzhou does)", str(cfg.data.loader.path))
    train_data, val_data = (_traffic_view(data.subset(users), cfg) for users in (split.train, split.val))
    log.info("data %s: %d users (%d train, %d val, %d holdout), %d records, device %s",
             data.name, len(split.train) + len(split.val) + len(split.holdout), len(split.train),
             len(split.val), len(split.holdout), len(data.records), device)

    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    private = dp_enabled(trainer_cfg)
    if private and cfg.model.kind != "lstm":
        raise ZenInputError(f"differential privacy (trainer.dp) is implemented for model=lstm, not "
                            f"model={cfg.model.kind}")
    model_cfg = {k: v for k, v in OmegaConf.to_container(cfg.model, resolve=True).items()
                 if k != "kind"}
    traffic = resolve_kind(cfg.model.kind)(**model_cfg)
    metrics = traffic.fit(train_data, val_data if len(split.val) else None,
                          trainer=trainer_cfg,
                          work_dir=model_dir, device=device, seed=int(cfg.seed),
                          resume=bool(cfg.resume))
    save_traffic_model(traffic, model_dir)
    metrics.update(fit_side_models(
        data, split, model_dir, seed=int(cfg.seed), mobility=_plain(cfg.mobility),
        shared_data=shared_data_dir(cfg), coupling=_plain(cfg.get("coupling")),
        social_from=_plain(cfg.data.get("social_from"))))
    _night_tendency_r2(traffic, model_dir, data.start, int(cfg.seed))
    privacy = {"private": False}
    if private:  # the traffic model's ledger, the side models' entries, the composed (epsilon, delta)
        record_side_models(traffic.privacy_ledger, model_dir)
        privacy = {"private": True, **traffic.privacy_ledger.summary()}
    # a model folder does not name its users: zen-evaluate recomputes the split, the digest checks it
    split_record = split.record(int(cfg.data.split.get("seed", 0)))

    write_json_atomic({
        "zen_version": __version__, "schema_version": SCHEMA_VERSION,
        "traffic_kind": cfg.model.kind, "conversations": cfg.conversations,
        "conversation_gap_s": float(cfg.conversation_gap_s), "data": data.name, "start": str(data.start),
        "timezone": timezone, "events": sorted(data.records["event"].astype(str).unique()),
        "days": data.days, "seed": int(cfg.seed), "split": split_record,
        "config": OmegaConf.to_container(cfg, resolve=False), "metrics": metrics,
        "privacy": privacy, "loading": data.meta.get("loading"),
    }, model_dir / "model.json")
    if private:
        metrics["privacy/epsilon"] = privacy["epsilon"]
        metrics["privacy/delta"] = privacy["delta"]
    metrics["time_s"] = time.perf_counter() - t0
    print(f"zen-train: model written to {model_dir}")
    for k, v in sorted(metrics.items()):
        print(f"  {k:<28s} {v:10.4f}")
    return metrics


def _night_tendency_r2(traffic, model_dir: Path, start, seed: int) -> None:
    """How much of a new user's night share their night tendency sets (``social.json``
    ``night_tendency_r2``, the divisor of ``night_assortativity=fit``; measured on users the
    fitted traffic model samples, so no real record is read)."""
    from zen.generation.pipeline import tendency_reliability
    from zen.network import SocialParams

    if not hasattr(traffic, "night_tendency") or not (model_dir / "social.json").exists():
        return
    social = SocialParams.load(model_dir / "social.json")
    start = pd.Timestamp(start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start
    social.night_tendency_r2 = tendency_reliability(traffic, social.window_days or 28.0, start, seed)
    social.save(model_dir / "social.json")


def _traffic_view(data: CDRData, cfg: DictConfig) -> CDRData:
    """What the traffic model learns from: whole timelines, or each user's starter view (the
    conversations they start, both sides' turns included; see zen.measures.conversations)."""
    if cfg.conversations == "all":
        return data
    if cfg.conversations != "starter":
        raise ZenInputError(f"unknown conversations={cfg.conversations!r}; use starter or all")
    keep = started_by_user(data.records, float(cfg.conversation_gap_s))
    return replace(data, records=data.records[keep].reset_index(drop=True))


def _plain(node) -> dict | None:
    return OmegaConf.to_container(node, resolve=True) if node is not None else None
