"""``zen-generate``: sample a complete synthetic CDR dataset from a trained model folder.

The population-wide state (activity levels, home/work anchors, the social graph, cells and
places) is built first; users are then generated in shards so that memory stays flat as
``n_users`` grows. Two passes over the shards:

1. each shard samples its users' traffic and mobility, assembles their own records with cells
   and counterparts (``zen.assembly``), and hands the mirror records of on-network calls/SMS
   whose other user is in another shard to that shard (``.work/pending/``);
2. each shard gives its pending mirror records their user's serving cell (from its stays).

Every file is written atomically and each finished step leaves a marker, so rerunning a
killed command resumes from the finished shards and ends with the same dataset.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from zen import SCHEMA_VERSION, __version__
from zen.assembly import Population, assemble_shard, mirror_on_network
from zen.assembly.budget import GIB, available_memory, check_memory, estimate_memory
from zen.assembly.export import write_bandicoot
from zen.io import read_table, write_json_atomic, write_table
from zen.io.dataset import write_manifest
from zen.io.model_files import read_json
from zen.io.ownership import (
    LOCK_PID,
    check_out_dir,
    exclusive,
    refuse_foreign,
    remove_owned,
    temporaries,
)
from zen.measures.conversations import CONVERSATION_GAP_S
from zen.schema import ZenInputError, validate
from zen.sessions import SessionModel
from zen.stages.common import config_number, config_seed, require, resolve_device, shared_data_dir
from zen.traffic.base import load_traffic_model

log = logging.getLogger("zen.generate")


def _seed(seed: int, *keys: int) -> int:
    """An independent 63-bit seed for a (component, shard) pair."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint64)[0] >> 1)


PAIRINGS = ("auto", "starter", "conversation", "half", "outgoing")
COMPONENT = {"activity": 1, "anchors": 2, "graph": 3, "traffic": 4, "mobility": 5, "assembly": 6,
             "cells": 7}


class ShardPlan:
    """File layout of a generation run inside ``out_dir`` (see the module docstring)."""

    def __init__(self, out_dir: Path, fmt: str):
        self.out = out_dir
        self.work = out_dir / ".work"
        self.ext = "csv" if fmt == "csv" else "parquet"

    def done(self, step: str, shard: int) -> Path:
        return self.work / "done" / f"{step}-{shard:05d}"

    def stays(self, shard: int) -> Path:
        return self.work / "stays" / f"shard-{shard:05d}.parquet"

    def pending(self, to_shard: int, from_shard: int) -> Path:
        return self.work / "pending" / f"to-{to_shard:05d}" / f"from-{from_shard:05d}.parquet"

    def records(self, day: str, shard: int, part: str) -> Path:
        return self.out / "records" / f"day={day}" / f"shard-{shard:05d}-{part}.{self.ext}"


def generate(cfg: DictConfig) -> dict[str, float]:
    """Write the dataset described by ``cfg`` and return a summary (row counts, timings)."""
    t0 = time.perf_counter()
    n_users, days, start = _check_args(cfg)
    device = resolve_device(cfg.device)
    if cfg.torch_threads:
        torch.set_num_threads(int(cfg.torch_threads))
    model_dir, seed = Path(cfg.model_dir), config_seed(cfg)
    traffic, social, mobility_params = _load_models(model_dir, device)
    if cfg.mode == "full":
        _check_memory(cfg, traffic, n_users, days)
    from zen.network import build_infrastructure

    antennas, places = build_infrastructure(OmegaConf.to_container(cfg.network, resolve=True),
                                            shared_data_dir(cfg), _seed(seed, COMPONENT["cells"]))
    out_dir = check_out_dir(cfg.out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive(out_dir, "zen-generate"):
            plan = ShardPlan(out_dir, cfg.format)
            _check_resume(cfg, plan)  # first write: every input has been read and checked by now
            if cfg.mode == "mobility":
                return _generate_stays_only(cfg, plan, mobility_params, antennas, places, start, t0)
            return _generate_records(cfg, plan, traffic, social, mobility_params, antennas, places,
                                     n_users, days, start, t0)
    except BaseException:
        _forget_unstarted(out_dir, created)
        raise


def _generate_records(cfg: DictConfig, plan: ShardPlan, traffic, social, mobility_params,
                      antennas: pd.DataFrame, places: pd.DataFrame, n_users: int, days: float,
                      start: pd.Timestamp, t0: float) -> dict[str, float]:
    """``mode=full``: the population, then both passes over the shards, then the manifest."""
    from zen.mobility import MobilityEmulator

    seed, device = config_seed(cfg), resolve_device(cfg.device)
    timings = {"setup": time.perf_counter() - t0, "traffic": 0.0, "mobility": 0.0,
               "assembly": 0.0, "write": 0.0}
    t = time.perf_counter()
    pop, edges = _build_population(cfg, traffic, social, mobility_params, places, n_users)
    timings["population"] = time.perf_counter() - t
    log.info("population: %d users, %d ties, %d places, %d cells", n_users, len(edges),
             len(places), len(antennas))
    model_info = read_json(Path(cfg.model_dir) / "model.json", "model.json")
    shard = _ShardContext(cfg=cfg, plan=plan, traffic=traffic,
                          emulator=MobilityEmulator(mobility_params), places=places,
                          place_cell=places["cell_id"].to_numpy(), pop=pop, start=start, days=days,
                          seed=seed, device=device, timings=timings,
                          sessions=SessionModel.load(cfg.sessions) if cfg.sessions else None,
                          **_conversation_rule(cfg, model_info))
    bounds = [(lo, min(n_users, lo + int(cfg.shard_users)))
              for lo in range(0, n_users, int(cfg.shard_users))]
    shard_starts = np.array([lo for lo, _ in bounds])
    n_events = 0
    bar = tqdm(total=n_users, desc="generate", unit="user", disable=not cfg.progress)
    for s, (a, b) in enumerate(bounds):
        if not plan.done("own", s).exists():
            n_events += shard.generate_own(s, a, b, shard_starts)
        bar.update(b - a)
        bar.set_postfix(events_per_s=f"{n_events / max(time.perf_counter() - t0, 1e-9):,.0f}")
    bar.close()
    for s, (a, b) in enumerate(tqdm(bounds, desc="mirrors", unit="shard", disable=not cfg.progress)):
        if not plan.done("mirror", s).exists():
            t = time.perf_counter()
            _resolve_pending(plan, s, a, b, days, start, shard.place_cell)
            timings["assembly"] += time.perf_counter() - t

    t = time.perf_counter()
    place_cell = shard.place_cell
    users = pd.DataFrame({"user_id": np.arange(n_users, dtype=np.int64),
                          "home_cell": place_cell[pop.home],
                          "work_cell": np.where(pop.work >= 0, place_cell[np.maximum(pop.work, 0)], -1),
                          "profile": np.digitize(pop.activity, np.quantile(pop.activity, [0.25, 0.5, 0.75]))})
    timings["write"] += time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    summary = _finish(cfg, plan, antennas, validate(users, "users", "<users>"), edges, start, days,
                      n_users, bounds, timings)
    summary.update({f"time/{k}": v for k, v in timings.items()})
    summary["time/total"] = time.perf_counter() - t0
    _print_summary(summary, plan.out)
    return summary


def _check_args(cfg: DictConfig) -> tuple[int, float, pd.Timestamp]:
    require(cfg, "model_dir", "zen-generate model_dir=<the 'model' folder that zen-train wrote>")
    if not (Path(cfg.model_dir) / "model.json").exists():
        raise ZenInputError("not a Zen model folder (no model.json); pass model_dir=<the 'model' "
                            "folder that zen-train wrote>", str(cfg.model_dir))
    n_users = config_number(cfg, "n_users", int, minimum=1)
    days = config_number(cfg, "days", float, above=0)
    config_number(cfg, "shard_users", int, minimum=1)
    config_seed(cfg)
    if cfg.pairing not in PAIRINGS:
        raise ZenInputError(f"unknown pairing {cfg.pairing!r}; use one of {', '.join(PAIRINGS)}")
    if cfg.conversation_gap_s is not None:
        config_number(cfg, "conversation_gap_s", float, above=0)
    if cfg.mode not in ("full", "mobility"):
        raise ZenInputError(f"unknown mode {cfg.mode!r}; use full or mobility")
    if cfg.format not in ("parquet", "csv", "bandicoot"):
        raise ZenInputError(f"unknown format {cfg.format!r}; use parquet, csv or bandicoot")
    try:
        start = pd.Timestamp(str(cfg.start_date), tz="UTC")
    except ValueError as err:
        raise ZenInputError(f"start_date {cfg.start_date!r} is not a date (YYYY-MM-DD)") from err
    if start is pd.NaT or days > (pd.Timestamp.max.tz_localize("UTC") - start).total_seconds() / 86400:
        raise ZenInputError(f"start_date {cfg.start_date!r} + days={days:g} is not a time window pandas "
                            "can hold; give fewer days or an earlier start_date")
    return n_users, days, start


def _check_memory(cfg: DictConfig, traffic, n_users: int, days: float) -> None:
    """Refuse, before anything is built, a run that would not fit in memory."""
    if not cfg.memory_check:
        return
    rate = float(np.mean(traffic.sample_activity(10_000, np.random.default_rng(0))))
    limit = config_number(cfg, "memory_limit_gb", float, above=0) * GIB if cfg.memory_limit_gb \
        else available_memory()
    check_memory(estimate_memory(n_users, days, int(cfg.shard_users), rate), limit, n_users, days, rate)


def _conversation_rule(cfg: DictConfig, model_info: dict) -> dict:
    """The assembly rule and conversation gap: as given, or those the model was trained for.

    A model trained on starter views (``zen-train conversations=starter``) samples the
    conversations each user starts, so ``pairing=auto`` keeps them all (``starter``); a model
    trained on whole timelines samples both ends of each exchange and gets ``conversation``.
    """
    view = model_info.get("conversations", "all")
    pairing = cfg.pairing if cfg.pairing != "auto" else ("starter" if view == "starter" else "conversation")
    gap = cfg.conversation_gap_s if cfg.conversation_gap_s is not None \
        else model_info.get("conversation_gap_s", CONVERSATION_GAP_S)
    return {"pairing": pairing, "conversation_gap_s": float(gap)}


def _load_models(model_dir: Path, device):
    """The traffic model, social-graph and mobility parameters saved by ``zen-train``."""
    from zen.mobility import MobilityParams
    from zen.network import SocialParams

    traffic = load_traffic_model(model_dir, device)
    if not (model_dir / "social.json").exists():
        raise ZenInputError("the model folder has no social.json; retrain it with zen-train",
                            str(model_dir))
    social = SocialParams.load(model_dir / "social.json")
    mobility = MobilityParams.load(model_dir / "mobility.json") \
        if (model_dir / "mobility.json").exists() else MobilityParams()
    return traffic, social, mobility


def _build_population(cfg: DictConfig, traffic, social, mobility_params, places: pd.DataFrame,
                      n_users: int) -> tuple[Population, pd.DataFrame]:
    """Activity levels, home/work anchors and the social graph of the whole population."""
    from zen.mobility import choose_anchors
    from zen.network import OFFNET_BASE, contact_table, generate_social_graph

    seed = config_seed(cfg)
    activity = traffic.sample_activity(n_users, np.random.default_rng(_seed(seed, COMPONENT["activity"])))
    home, work = choose_anchors(places, n_users, mobility_params,
                                np.random.default_rng(_seed(seed, COMPONENT["anchors"])))
    lat, lon = places["lat"].to_numpy(), places["lon"].to_numpy()
    edges = generate_social_graph(social, lat[home], lon[home], activity,
                                  _seed(seed, COMPONENT["graph"]))
    contacts = contact_table(edges, n_users, int(cfg.max_rank))
    pop = Population(activity=activity, home=home, work=work, contacts=contacts,
                     degree=(contacts >= 0).sum(axis=1), offnet_base=OFFNET_BASE,
                     offnet_pool=max(1, int(cfg.offnet_pool_per_user * n_users)),
                     new_on_network_share=1.0 - float(social.offnet_share))
    return pop, edges


@dataclass
class _ShardContext:
    """What every shard needs; ``generate_own`` runs the first pass for one shard."""

    cfg: DictConfig
    plan: ShardPlan
    traffic: object
    emulator: object
    places: pd.DataFrame
    place_cell: np.ndarray
    pop: Population
    start: pd.Timestamp
    days: float
    seed: int
    device: object
    timings: dict
    pairing: str
    conversation_gap_s: float
    sessions: SessionModel | None

    def generate_own(self, s: int, a: int, b: int, shard_starts: np.ndarray) -> int:
        """Sample users ``a..b-1``; write their own records, stays and others' pending records."""
        timings, start, place_cell = self.timings, self.start, self.place_cell
        t = time.perf_counter()
        tl = self.traffic.sample(b - a, self.days, start, _seed(self.seed, COMPONENT["traffic"], s),
                                 device=self.device, activity=self.pop.activity[a:b])
        timings["traffic"] += time.perf_counter() - t
        t = time.perf_counter()
        stays = self.emulator.simulate(self.places, self.pop.home[a:b], self.pop.work[a:b], self.days,
                                       start, _seed(self.seed, COMPONENT["mobility"], s),
                                       device=self.device)
        timings["mobility"] += time.perf_counter() - t
        t = time.perf_counter()
        rng = np.random.default_rng(_seed(self.seed, COMPONENT["assembly"], s))
        own = assemble_shard(tl, a, self.pop, start, stays, place_cell, rng, self.pairing,
                             self.conversation_gap_s, self.sessions)
        mirrors = mirror_on_network(own, self.pop.n_users)
        target = np.searchsorted(shard_starts, mirrors["user_id"].to_numpy(), side="right") - 1
        local = target == s
        mine = mirrors[local]
        mine_cells = place_cell[stays.locate(mine["user_id"].to_numpy() - a, _seconds(mine, start))]
        own = pd.concat([own, mine.assign(cell_id=mine_cells)], ignore_index=True)
        timings["assembly"] += time.perf_counter() - t
        t = time.perf_counter()
        for to in np.unique(target[~local]):
            write_table(mirrors[target == to], self.plan.pending(int(to), s))
        write_table(pd.DataFrame({"user": stays.user, "start_s": stays.start_s, "end_s": stays.end_s,
                                  "place": stays.place}), self.plan.stays(s))
        if self.cfg.write_stays:
            write_table(stays.to_frame(np.arange(a, b), start),
                        self.plan.out / "stays" / f"shard-{s:05d}.parquet")
        _write_by_day(own, self.plan, s, "own")
        _mark(self.plan.done("own", s))
        timings["write"] += time.perf_counter() - t
        return len(own)


def _generate_stays_only(cfg: DictConfig, plan: ShardPlan, mobility_params, antennas: pd.DataFrame,
                         places: pd.DataFrame, start: pd.Timestamp, t0: float) -> dict[str, float]:
    """``mode=mobility``: only the mobility emulator; writes ``stays/`` instead of records."""
    from zen.mobility import MobilityEmulator, choose_anchors

    timings = {"setup": time.perf_counter() - t0, "mobility": 0.0, "write": 0.0}

    n_users, days, seed, size = int(cfg.n_users), float(cfg.days), int(cfg.seed), int(cfg.shard_users)
    home, work = choose_anchors(places, n_users, mobility_params,
                                np.random.default_rng(_seed(seed, COMPONENT["anchors"])))
    emulator = MobilityEmulator(mobility_params)
    device = resolve_device(cfg.device)
    n_stays = 0
    for s, a in enumerate(tqdm(range(0, n_users, size), desc="mobility", unit="shard",
                               disable=not cfg.progress)):
        b = min(n_users, a + size)
        path = plan.out / "stays" / f"shard-{s:05d}.parquet"
        if plan.done("stays", s).exists():
            n_stays += len(read_table(path, columns=["user_id"]))
            continue
        t = time.perf_counter()
        stays = emulator.simulate(places, home[a:b], work[a:b], days, start,
                                  _seed(seed, COMPONENT["mobility"], s), device=device)
        timings["mobility"] += time.perf_counter() - t
        t = time.perf_counter()
        write_table(stays.to_frame(np.arange(a, b), start), path)
        _mark(plan.done("stays", s))
        timings["write"] += time.perf_counter() - t
        n_stays += len(stays.user)
    write_table(antennas, plan.out / "antennas.parquet")
    write_table(places, plan.out / "places.parquet")
    write_manifest(plan.out, {
        "zen_version": __version__, "schema_version": SCHEMA_VERSION, "mode": "mobility",
        "config": _resolved_settings(cfg), "seed": seed, "start": str(start), "days": days,
        "n_users": n_users, "rows": {"stays": n_stays, "antennas": len(antennas), "places": len(places)},
    })
    shutil.rmtree(plan.work, ignore_errors=True)
    total = time.perf_counter() - t0
    print(f"zen-generate: {n_stays:,} stays of {n_users:,} users x {days:g} days written to {plan.out}")
    print(f"  {n_users * days / max(timings['mobility'], 1e-9):,.0f} agent-days/s in the emulator; "
          f"{total:.1f} s in all")
    return {"users": n_users, "stays": n_stays, "time/total": total,
            **{f"time/{k}": v for k, v in timings.items()}}


def _seconds(records: pd.DataFrame, start: pd.Timestamp) -> np.ndarray:
    return (records["timestamp"] - start).dt.total_seconds().to_numpy()


def _mark(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _write_by_day(records: pd.DataFrame, plan: ShardPlan, shard: int, part: str) -> None:
    records = records.sort_values(["user_id", "timestamp"], kind="stable")
    day = records["timestamp"].dt.strftime("%Y-%m-%d").to_numpy()
    for d in np.unique(day):
        chunk = records[day == d].reset_index(drop=True)
        if plan.ext == "csv":
            chunk = chunk.assign(timestamp=chunk["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        write_table(chunk, plan.records(str(d), shard, part), fmt=plan.ext)


def _resolve_pending(plan: ShardPlan, shard: int, first_user: int, end_user: int, days: float,
                     start: pd.Timestamp, place_cell: np.ndarray) -> int:
    """Give this shard's pending mirror records their user's serving cell and write them."""
    from zen.mobility import Stays

    folder = plan.pending(shard, 0).parent
    files = sorted(folder.glob("from-*.parquet")) if folder.exists() else []
    n = 0
    if files:
        pending = pd.concat([read_table(f) for f in files], ignore_index=True)
        pending = validate(pending, "records", str(folder))
        saved = read_table(plan.stays(shard))
        stays = Stays(user=saved["user"].to_numpy(), start_s=saved["start_s"].to_numpy(),
                      end_s=saved["end_s"].to_numpy(), place=saved["place"].to_numpy(),
                      period_s=days * 86400.0, n_users=end_user - first_user)
        place = stays.locate(pending["user_id"].to_numpy() - first_user, _seconds(pending, start))
        pending["cell_id"] = place_cell[place]
        _write_by_day(pending, plan, shard, "mirror")
        n = len(pending)
    _mark(plan.done("mirror", shard))
    return n


def _fingerprint(cfg: DictConfig) -> dict:
    keys = ("model_dir", "mode", "pairing", "conversation_gap_s", "sessions", "n_users", "days",
            "start_date", "seed", "format", "shard_users", "max_rank", "offnet_pool_per_user", "write_stays")
    fp = {k: cfg[k] for k in keys}
    fp["network"] = OmegaConf.to_container(cfg.network, resolve=True)
    fp["model_dir"] = str(Path(cfg.model_dir).resolve())
    return json.loads(json.dumps(fp, default=str))


def _resolved_settings(cfg: DictConfig) -> dict:
    """The run's settings, resolved (Hydra's own runtime paths left out)."""
    return {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in cfg.items() if k not in ("paths", "hydra")}


def _check_resume(cfg: DictConfig, plan: ShardPlan) -> None:
    """Refuse to overwrite a finished dataset; resume an unfinished one made by the same config.

    ``overwrite=true`` removes only the files Zen wrote there (see :func:`_zen_files`) and refuses
    when the folder holds anything else. A resumed run first sweeps the temporaries a kill left.
    """
    out_dir, fp = plan.out, _fingerprint(cfg)
    fp_file = plan.work / "config.json"
    finished = (out_dir / "manifest.json").exists()
    if finished or fp_file.exists():
        same = not finished and read_json(fp_file, "the unfinished run's settings") == fp
        if same:
            log.info("resuming the unfinished run in %s", out_dir)
            for tmp in temporaries(out_dir):
                tmp.unlink()
        elif not cfg.overwrite:
            what = "a finished dataset is" if finished else "an unfinished run with a different config is"
            raise ZenInputError(f"{what} already there; choose another out_dir= or pass overwrite=true",
                                str(out_dir))
        else:
            owned = _zen_files(plan)
            refuse_foreign(out_dir, owned, "out_dir", "dataset files")
            remove_owned(out_dir, owned, keep_root=True)
    elif any(p.name != LOCK_PID for p in out_dir.iterdir()):
        raise ZenInputError("the output folder exists and is not a Zen run; choose another out_dir=",
                            str(out_dir))
    write_json_atomic(fp, fp_file)


def _zen_files(plan: ShardPlan) -> list[Path]:
    """The files of ``plan.out`` that Zen wrote: those a finished dataset's manifest lists, or for
    an unfinished run (marked by ``.work/config.json``) the shard layout's files; plus the run's
    ``.work`` folder, its lock file and the temporaries of killed writes."""
    out = plan.out
    if (out / "manifest.json").exists():
        manifest = read_json(out / "manifest.json", "the dataset's manifest")
        files = [out / name for name in manifest.get("checksums", {})] + [out / "manifest.json"]
    else:
        layout = ("records/day=*/shard-*.parquet", "records/day=*/shard-*.csv", "stays/shard-*.parquet",
                  "antennas.parquet", "places.parquet", "users.parquet", "edges.parquet", "bandicoot/*.csv",
                  "bandicoot/antennas/*.csv")
        files = [p for pattern in layout for p in out.glob(pattern)]
    work = [p for p in plan.work.rglob("*") if p.is_file()] if plan.work.exists() else []
    return files + work + temporaries(out) + [out / LOCK_PID]


def _forget_unstarted(out_dir: Path, created: bool) -> None:
    """After a failure, remove the folder this run created if no shard of it had finished."""
    work = out_dir / ".work"
    if not created or not out_dir.is_dir() or (work / "done").exists():
        return
    owned = ([p for p in work.rglob("*") if p.is_file()] if work.exists() else []) + temporaries(out_dir)
    remove_owned(out_dir, owned)


def _finish(cfg: DictConfig, plan: ShardPlan, antennas: pd.DataFrame, users: pd.DataFrame,
            edges: pd.DataFrame, start: pd.Timestamp, days: float, n_users: int,
            bounds: list[tuple[int, int]], timings: dict[str, float]) -> dict[str, float]:
    """Write the population tables, count rows, export, and write the manifest last."""
    out = plan.out
    write_table(antennas, out / "antennas.parquet")
    write_table(users, out / "users.parquet")
    write_table(edges, out / "edges.parquet")
    record_files = sorted((out / "records").rglob(f"*.{plan.ext}"))
    counts: dict[str, int] = {}
    n_records = 0
    for f in record_files:
        r = read_table(f, columns=["event", "direction"])
        n_records += len(r)
        for (e, d), n in r.groupby(["event", "direction"], observed=True).size().items():
            counts[f"{e}_{d}"] = counts.get(f"{e}_{d}", 0) + int(n)
    if cfg.format == "bandicoot":
        write_bandicoot(record_files, antennas, out / "bandicoot")
    manifest = {
        "zen_version": __version__, "schema_version": SCHEMA_VERSION,
        "config": _resolved_settings(cfg), "seed": int(cfg.seed),
        "model_dir": str(Path(cfg.model_dir).resolve()), "start": str(start), "days": days,
        "n_users": n_users, "n_shards": len(bounds), "format": cfg.format,
        "rows": {"records": n_records, "antennas": len(antennas), "users": len(users),
                 "edges": len(edges), **{f"records_{k}": v for k, v in sorted(counts.items())}},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},  # before the final write
    }
    write_manifest(out, manifest)
    shutil.rmtree(plan.work, ignore_errors=True)
    summary = {"users": n_users, "records": n_records, "records_per_user_day": n_records / n_users / days}
    summary.update({f"records/{k}": v for k, v in counts.items()})
    return summary


def _print_summary(summary: dict, out_dir: Path) -> None:
    total = summary["time/total"]
    print(f"zen-generate: dataset written to {out_dir}")
    print(f"  users {summary['users']:,}   records {summary['records']:,}   "
          f"per user per day {summary['records_per_user_day']:.2f}   "
          f"{summary['records'] / total:,.0f} records/s in {total:.1f} s")
    kinds = {k.split('/', 1)[1]: v for k, v in summary.items() if k.startswith("records/")}
    print("  " + "   ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    parts = [k for k in summary if k.startswith("time/") and k != "time/total"]
    print("  time: " + ", ".join(f"{k[5:]} {summary[k]:.1f} s" for k in parts))
