"""Run a whole generation in this process: the shard steps of :mod:`zen.generation.pipeline` in
order, inside the output folder's lock, with resume, the memory check and progress bars.

The shards run where ``executor`` says (:mod:`zen.generation.executors`: this process, a local
process pool, or Ray tasks); this is the driver that ``zen-generate`` and :func:`zen.generate` call.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from zen.assembly.budget import CHOICE_BYTES_PER_RECORD, GIB, available_memory, check_memory, estimate_memory
from zen.checks import resolve_device
from zen.generation import pipeline
from zen.generation.executors import Executor, check_executor, local_workers, make_executor, resolve_workers
from zen.generation.layout import Layout
from zen.generation.output import forget_unstarted, prepare_out_dir
from zen.generation.spec import GenerationSpec
from zen.io.storage import Store
from zen.schema import ZenInputError
from zen.seeds import component_seed
from zen.sessions import SessionModel

log = logging.getLogger("zen.generate")


def check_memory_fits(spec: GenerationSpec, models: pipeline.Models, limit_gb: float | None = None,
                      processes: int = 1) -> None:
    """Refuse, before anything is built, a ``mode=full`` run that would not fit in memory.

    Args:
        limit_gb: the memory the run may use (None: what the machine has available now).
        processes: the run's processes on this machine (the driver and its local workers).
    """
    rate = float(np.mean(models.traffic.sample_activity(10_000, np.random.default_rng(0))))
    limit = float(limit_gb) * GIB if limit_gb else available_memory()
    estimate = estimate_memory(spec.n_users, spec.days, spec.shard_users, rate, processes)
    if pipeline.partner_choice(spec, models):  # every user's starts per day and their factor
        estimate = replace(estimate, population=estimate.population + spec.n_users * np.ceil(spec.days) * 6)
    if pipeline.needs_choice_pass(spec, models):  # every user's kept conversations, in every process
        extra = spec.n_users * spec.days * rate * CHOICE_BYTES_PER_RECORD
        estimate = replace(estimate, state=estimate.state + extra)
    check_memory(estimate, limit, spec.n_users, spec.days, rate)


def fingerprint(spec: GenerationSpec, model_dir: Path, network: dict, sessions: str | None = None) -> dict:
    """What must match for a rerun to resume an unfinished run."""
    fp = {**spec.settings(), "model_dir": str(Path(model_dir).resolve()), "network": network,
          "sessions": sessions}
    return json.loads(json.dumps(fp, default=str))


def generate_dataset(spec: GenerationSpec, model_dir: str | Path, out_dir: str | Path, network: dict,
                     data_root: str | Path, *, overwrite: bool = False, memory_check: bool = True,
                     memory_limit_gb: float | None = None, torch_threads: int | None = None,
                     settings: dict | None = None, progress: bool = False,
                     sessions: str | Path | None = None, workers: int | str | None = 1,
                     executor: str = "local", ray_address: str | None = None,
                     ray_gpus: float | str = "auto", filesystem=None) -> dict[str, float]:
    """Write the dataset of ``spec`` to ``out_dir`` and return a summary (row counts, ``time/*``).

    Args:
        spec: what to generate (``pairing=auto`` is resolved from the model).
        model_dir: the model folder ``zen-train`` wrote.
        out_dir: the dataset folder (created; resumed when it holds this run unfinished): a path,
            a URI of any filesystem pyarrow writes (``file://``, ``s3://``, ``gs://``, ``hdfs://``),
            or a path inside ``filesystem``; every shard step writes its own files there
            (:mod:`zen.io.storage` says how the output rules hold on an object store).
        network: the cells/places settings (``configs/network/*.yaml``).
        data_root: the folder relative tower/place paths of ``network`` are read from.
        overwrite: replace a finished dataset (only Zen's files).
        memory_check, memory_limit_gb: refuse a run whose estimated peak exceeds the limit.
        torch_threads: torch CPU threads for the whole run, the traffic model's sampling included
            (the model's ``num_threads`` is for training only; None: leave torch's setting).
        settings: the run's settings recorded in the manifest (default: ``spec``'s).
        progress: show progress bars.
        workers: processes that run the shards (``auto``: the machine's cores; with
            ``executor=ray``, the CPUs of a local Ray); the dataset is the same for any number.
        executor: ``local`` (this process or a process pool) or ``ray`` (Ray tasks; the same
            dataset); see :mod:`zen.generation.executors`.
        ray_address, ray_gpus: the Ray cluster to join (None: ``RAY_ADDRESS`` or a local Ray)
            and the GPUs per task (``auto``: 1 when the cluster has GPUs, unless ``device=cpu``).
        filesystem: a ``pyarrow.fs.FileSystem`` that holds ``out_dir`` (None: from ``out_dir``).
        sessions: the folder of the published session models (``zen.sessions``): every data record
            gets a service, volume and duration; None keeps the traffic model's durations.
    """
    t0 = time.perf_counter()
    store = Store.of(out_dir, filesystem)  # a URI that cannot be opened: refused before any work
    check_executor(executor)
    if executor == "local" and resolve_device(spec.device).type == "cuda" and not torch.cuda.is_available():
        raise ZenInputError(f"device={spec.device} but torch sees no CUDA device here (torch "
                            f"{torch.__version__}); use device=auto or device=cpu")
    workers = resolve_workers(workers)
    # started now, so that their imports overlap loading the models and building the population
    n_shards = -(-spec.n_users // spec.shard_users)
    with local_workers(executor, workers, n_shards, torch_threads) or nullcontext() as processes:
        launch = partial(make_executor, executor, workers=workers, torch_threads=torch_threads,
                         ray_address=ray_address, ray_gpus=ray_gpus, device=spec.device,
                         processes=processes)
        remote = executor == "ray" and (ray_address or "RAY_ADDRESS" in os.environ)
        here = 1 if remote else min(workers, n_shards)  # processes on this machine
        return _generate(spec, model_dir, store, network, data_root, launch, overwrite, memory_check,
                         (memory_limit_gb, here), torch_threads, settings, progress, sessions, t0)


def _generate(spec: GenerationSpec, model_dir: str | Path, store: Store, network: dict,
              data_root: str | Path, launch: Callable[..., Executor], overwrite: bool, memory_check: bool,
              memory: tuple[float | None, int], torch_threads: int | None, settings: dict | None,
              progress: bool, sessions: str | Path | None, t0: float) -> dict[str, float]:
    """:func:`generate_dataset` once its executor's processes are starting (``memory``: the limit
    in GiB, None for what is available, and the run's processes on this machine)."""
    from zen.network import build_infrastructure

    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    # On the CPU here: each shard step moves them to its own device (a worker process, or a Ray
    # task on a node whose GPUs this process does not see).
    models = pipeline.load_models(model_dir, "cpu")
    if sessions:
        models = replace(models, sessions=SessionModel.load(sessions))
    spec = spec.for_model(models.info)
    if spec.mode == "full" and memory_check:
        check_memory_fits(spec, models, *memory)
    antennas, places = build_infrastructure(network, Path(data_root), component_seed(spec.seed, "cells"))
    store = store.for_output()
    created = not store.exists()
    store.make()
    settings = settings if settings is not None else spec.settings()
    try:
        with store.exclusive("zen-generate"):
            layout = Layout(store, spec.ext)
            fp = fingerprint(spec, models.path, network, str(sessions) if sessions else None)
            prepare_out_dir(layout, fp, overwrite)  # the first write
            if spec.mode == "mobility":
                return _stays_only(spec, models, layout, antennas, places, settings, progress, t0, launch)
            return _records(spec, models, layout, antennas, places, settings, progress, t0, launch)
    except BaseException:
        forget_unstarted(store, created)
        raise


def _add(timings: dict[str, float], result: pipeline.ShardResult) -> None:
    for k, v in result.timings.items():
        timings[k] = timings.get(k, 0.0) + v


def _records(spec: GenerationSpec, models: pipeline.Models, layout: Layout, antennas: pd.DataFrame,
             places: pd.DataFrame, settings: dict, progress: bool, t0: float,
             launch: Callable[..., Executor]) -> dict[str, float]:
    """``mode=full``: the population, then both passes over the shards, then the manifest."""
    timings = {"setup": time.perf_counter() - t0, "traffic": 0.0, "mobility": 0.0, "assembly": 0.0,
               "write": 0.0}
    t = time.perf_counter()
    pop, edges = pipeline.build_population(spec, models, places)
    timings["population"] = time.perf_counter() - t
    log.info("population: %d users, %d ties, %d places, %d cells", spec.n_users, len(edges), len(places),
             len(antennas))
    shards, n_events = pipeline.shard_bounds(spec), 0
    sizes = {shard.index: shard.size for shard in shards}
    place_cell = places["cell_id"].to_numpy()
    steps = {"sample": (pipeline.sample_shard, (spec, models, pop, places, layout)),
             "choose": (pipeline.choose_shard, (spec, models, pop, places, layout)),
             "own": (pipeline.generate_shard, (spec, models, pop, places, layout)),
             "mirror": (pipeline.resolve_mirrors, (spec, place_cell, layout))}
    own = [shard for shard in shards if not layout.is_done("own", shard.index)]
    fresh = [shard for shard in own if not layout.is_done("sampled", shard.index)]
    choose = [shard for shard in shards if not layout.is_done("chosen", shard.index)] \
        if own and pipeline.needs_choice_pass(spec, models) else []  # every shard's, before any "own"
    with launch(steps, len(own) or len(shards)) as pool:
        bar = tqdm(total=2 * spec.n_users, desc="generate", unit="user", disable=not progress)
        bar.update(2 * spec.n_users - sum(shard.size for shard in own + fresh))
        for result in pool.map("sample", fresh):
            _add(timings, result)
            bar.update(sizes[result.shard])
        for result in pool.map("choose", choose):
            _add(timings, result)
        for result in pool.map("own", own):
            n_events += result.rows
            _add(timings, result)
            bar.update(sizes[result.shard])
            bar.set_postfix(events_per_s=f"{n_events / max(time.perf_counter() - t0, 1e-9):,.0f}")
        bar.close()
        todo = [shard for shard in shards if not layout.is_done("mirror", shard.index)]
        for result in tqdm(pool.map("mirror", todo), total=len(todo), desc="mirrors", unit="shard",
                           disable=not progress):
            _add(timings, result)
    t = time.perf_counter()
    users = pipeline.population_users(pop, place_cell)
    timings["write"] += time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    summary = pipeline.finish(spec, layout, antennas, places, users, edges, settings, models.path, timings)
    summary.update({f"time/{k}": v for k, v in timings.items()})
    summary["time/total"] = time.perf_counter() - t0
    return summary


def _stays_only(spec: GenerationSpec, models: pipeline.Models, layout: Layout, antennas: pd.DataFrame,
                places: pd.DataFrame, settings: dict, progress: bool, t0: float,
                launch: Callable[..., Executor]) -> dict[str, float]:
    """``mode=mobility``: only the mobility emulator; writes ``stays/`` instead of records."""
    from zen.mobility.population import population_anchors

    timings = {"setup": time.perf_counter() - t0, "mobility": 0.0, "write": 0.0}
    home, work = population_anchors(places, spec.n_users, models.mobility, spec.seed)
    n_stays = 0
    shards = pipeline.shard_bounds(spec)
    steps = {"stays": (pipeline.generate_stays, (spec, models, home, work, places, layout))}
    with launch(steps, len(shards)) as pool:
        for result in tqdm(pool.map("stays", shards), total=len(shards), desc="mobility", unit="shard",
                           disable=not progress):
            n_stays += result.rows
            _add(timings, result)
    pipeline.finish_stays(spec, layout, antennas, places, settings, n_stays)
    return {"users": spec.n_users, "stays": n_stays, "time/total": time.perf_counter() - t0,
            **{f"time/{k}": v for k, v in timings.items()}}
