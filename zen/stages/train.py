"""``zen-train``: fit the traffic model, the social graph and the mobility parameters on real
CDRs and write a self-contained model folder that ``zen-generate`` needs (and nothing else)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from zen import SCHEMA_VERSION, __version__
from zen.data import CDRData
from zen.data.check import MIN_TRAIN_USERS
from zen.data.local_time import local_clock
from zen.io import write_json_atomic
from zen.io.model_files import read_json
from zen.measures.conversations import started_by_user
from zen.schema import ZenInputError
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
    metrics.update(_fit_side_models(cfg, data, split, model_dir))
    privacy = _privacy_record(cfg, traffic.privacy_ledger) if private else {"private": False}
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


def _traffic_view(data: CDRData, cfg: DictConfig) -> CDRData:
    """What the traffic model learns from: whole timelines, or each user's starter view (the
    conversations they start, both sides' turns included; see zen.measures.conversations)."""
    if cfg.conversations == "all":
        return data
    if cfg.conversations != "starter":
        raise ZenInputError(f"unknown conversations={cfg.conversations!r}; use starter or all")
    keep = started_by_user(data.records, float(cfg.conversation_gap_s))
    return replace(data, records=data.records[keep].reset_index(drop=True))


def _privacy_record(cfg: DictConfig, ledger) -> dict:
    """What ``model.json`` records of a DP run: the ledger of the traffic model plus the side
    models this stage fits, and the composed (epsilon, delta)."""
    ledger.not_private("social graph (social.json: degree law, reciprocity, clustering, tie "
                       "strengths, off-network share, partner day power)",
                       "fitted on the training users without noise")
    calibration = Path(cfg.model_dir) / "mobility_calibration.json"
    if not calibration.exists():
        ledger.public("mobility parameters (mobility.json)", "literature defaults (no data)")
    elif read_json(calibration, "mobility_calibration.json").get("source") == "cells":
        ledger.not_private("mobility calibration (mobility.json)",
                           "fitted on the training users' cell sequences without noise")
    else:
        ledger.not_private("mobility calibration (mobility.json)",
                           "fitted on a GPS sample (not the CDR users) without noise")
    if (Path(cfg.model_dir) / "coupling.json").exists():
        ledger.not_private("traffic <-> mobility dependency (coupling.json)",
                           "fitted on the training users' slot states without noise")
    ledger.not_private("metrics in model.json (train/val NLL) and the per-epoch training NLL in "
                       "checkpoints/last_dp.pt", "averages over training / validation users, without noise")
    return {"private": True, **ledger.summary()}


def _fit_side_models(cfg: DictConfig, data, split, model_dir: Path) -> dict[str, float]:
    """Social-graph and mobility parameters, saved beside the traffic model."""
    from zen.network import fit_social

    metrics: dict[str, float] = {}
    social_data, social_users = data, split.train
    if not (data.records["counterpart_id"] >= 0).any():  # no ties observed: fit another source's graph
        social_data, social_users = _social_source(cfg)
        log.info("no counterparts in %s: social graph fitted on data.social_from (%s, all %d users)",
                 data.name, social_data.name, len(social_users))
    observed = social_data.meta.get("observed_ids", social_data.user_ids)  # all splits, loaded or not
    social = fit_social(social_data.records, social_users, social_data.friendships, days=social_data.days,
                        seed=int(cfg.seed), observed_ids=observed)
    social.save(model_dir / "social.json")
    metrics["social/fitted_on_own_data"] = float(social_data is data)
    log.info("social graph fitted on %d users of %s", len(social_users), social_data.name)
    from zen.mobility.cdr_calibration import calibrate_mobility

    mobility, report = calibrate_mobility(OmegaConf.to_container(cfg.mobility, resolve=True),
                                          shared_data_dir(cfg), data, split, int(cfg.seed))
    mobility.save(model_dir / "mobility.json")
    if report:
        write_json_atomic(report, model_dir / "mobility_calibration.json")
    metrics["mobility/calibrated"] = float(bool(cfg.mobility.calibrate))
    metrics.update(_fit_coupling(cfg, data, split, model_dir))
    return metrics


def _fit_coupling(cfg: DictConfig, data, split, model_dir: Path) -> dict[str, float]:
    """The traffic <-> mobility dependency (``coupling.json``, :mod:`zen.coupling`), fitted on the
    training users when the data has both views (cells with coordinates)."""
    from zen.coupling import CouplingModel
    from zen.measures.individual import has_cells

    c = cfg.get("coupling") or {"fit": "none"}
    train = data.subset(split.train)
    if c.get("fit", "auto") == "none" or not has_cells(train.records, train.antennas):
        return {"coupling/fitted": 0.0}
    model = CouplingModel.fit(train.records, train.start, train.days, train.antennas,
                              n_signatures=int(c.signatures), period_hours=int(c.period_hours),
                              seed=int(cfg.seed))
    model.save(model_dir / "coupling.json")
    log.info("traffic <-> mobility dependency fitted on %d users (%d EM iterations)", len(split.train),
             len(model.history))
    return {"coupling/fitted": 1.0, "coupling/loglik_per_slot": model.history[-1]}


def _social_source(cfg: DictConfig):
    """The data named by ``data.social_from`` (``{name, loader}``) and all of its users."""
    from zen.data import load_dataset

    source = OmegaConf.to_container(cfg.data.social_from, resolve=True)
    other = load_dataset(source["name"], **source.get("loader", {}))
    return other, other.user_ids
