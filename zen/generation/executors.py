"""Where the shard steps run: one small interface, two implementations.

An executor is made with the run's named steps, ``steps[name] = (step, (spec, *rest))``, and its
``map(name, shards)`` yields ``step(spec, shard, *rest)`` for every shard, in shard order:

* :class:`ShardPool` (``executor=local``): this process, or ``workers`` spawned processes;
* :class:`RayExecutor` (``executor=ray``): Ray tasks on a local or an existing Ray cluster.

Every shard step depends only on its arguments and on the files under ``out_dir`` (see
:mod:`zen.generation.pipeline`), so both write the same bytes for the same seed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

import torch

from zen.checks import config_number
from zen.generation.pipeline import Shard, ShardResult
from zen.schema import ZenInputError

EXECUTORS = ("local", "ray")
Steps = dict[str, tuple[Callable, tuple]]


class Executor(Protocol):
    """Runs named shard steps over shards; a context manager that frees its workers on exit."""

    def map(self, name: str, shards: list[Shard]) -> Iterator[ShardResult]:
        """Results of step ``name`` on ``shards``, in the order of ``shards``."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc) -> None: ...


_WORKER: dict = {}  # what a worker process holds for the whole run (see ShardPool)


def _start_worker(torch_threads: int | None, steps: Steps) -> None:
    """Initialise a worker process once: its torch threads and every step's shared arguments."""
    torch.set_num_threads(int(torch_threads or 1))
    _WORKER.update(steps)


def _run_in_worker(name: str, shard: Shard) -> ShardResult:
    step, (spec, *rest) = _WORKER[name]
    return step(spec, shard, *rest)


class ShardPool:
    """``executor=local``: the steps in this process, or in ``workers`` spawned processes started
    once for the whole run (one torch thread each unless ``torch_threads`` says otherwise; the
    shared arguments are sent once per process)."""

    def __init__(self, steps: Steps, workers: int, n_shards: int, torch_threads: int | None = None):
        self.steps, self.pool = steps, None
        if workers > 1 and n_shards > 1:
            spawn = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(min(workers, n_shards), mp_context=spawn,
                                            initializer=_start_worker, initargs=(torch_threads, steps))

    def map(self, name: str, shards: list[Shard]) -> Iterator[ShardResult]:
        if self.pool is None:
            step, (spec, *rest) = self.steps[name]
            for shard in shards:
                yield step(spec, shard, *rest)
            return
        for future in [self.pool.submit(_run_in_worker, name, shard) for shard in shards]:
            yield future.result()

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _ray_task(step: Callable, shared: tuple, shard: Shard, torch_threads: int | None) -> ShardResult:
    """One shard step inside a Ray worker (``shared`` arrives from the object store)."""
    torch.set_num_threads(int(torch_threads or 1))
    spec, *rest = shared
    return step(spec, shard, *rest)


class RayExecutor:
    """``executor=ray``: each shard step is a Ray task (1 CPU, ``gpus`` GPUs).

    Args:
        address: an existing cluster (``auto``, ``<host:port>``, ``ray://<host:port>``); None joins
            the cluster of ``RAY_ADDRESS`` (as under ``ray job submit``) or starts a local Ray
            with ``workers`` CPUs (its workers at normal priority), shut down on exit.
        gpus: GPUs per task (``auto``: 1 when the cluster has GPUs and ``device`` is not ``cpu``,
            else 0; a fraction such as 0.25 packs four shards on a GPU).
        device: the run's ``device`` setting.

    The shared arguments (models, population, places) go to the object store once; each task
    writes its shards to ``out_dir`` itself: a folder every node sees at the same path (one
    machine, NFS, a mount) or a ``pyarrow.fs`` filesystem such as ``s3://`` (:mod:`zen.io.storage`).
    """

    def __init__(self, steps: Steps, workers: int, torch_threads: int | None = None,
                 address: str | None = None, gpus: float | str = "auto", device: str = "auto"):
        try:
            import ray
        except ImportError as err:
            raise ZenInputError("executor=ray needs Ray: pip install 'zen-cdr[ray]' (or executor=local)") \
                from err
        self.ray, self.steps, self.threads = ray, steps, torch_threads
        self.started = not ray.is_initialized()
        if self.started:
            if address is None and "RAY_ADDRESS" not in os.environ:
                # Ray renices its workers to 15 by default; a local run's shards compete for the
                # cores like executor=local's processes do (at 15, one 100k-user run on this
                # 2-core machine, loaded by other jobs, took 170 s against 47 s for workers=1).
                ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING,
                         log_to_driver=False, _system_config={"worker_niceness": 0})
            else:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        if gpus == "auto":
            has = ray.cluster_resources().get("GPU", 0) > 0
            gpus = 1 if has and str(device) != "cpu" else 0
        gpus = config_number({"ray_gpus": gpus}, "ray_gpus", float, minimum=0)
        self.task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(_ray_task)
        self.shared = {name: ray.put(args) for name, (_, args) in steps.items()}

    def map(self, name: str, shards: list[Shard]) -> Iterator[ShardResult]:
        step = self.steps[name][0]
        refs = [self.task.remote(step, self.shared[name], shard, self.threads) for shard in shards]
        done = 0
        try:
            for ref in refs:
                try:
                    result = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as err:  # the step's own error, as raised
                    raise (err.cause if isinstance(err.cause, Exception) else err) from err
                yield result
                done += 1
        finally:  # a failed shard or a stopped driver: the shards not yet collected are cancelled
            for ref in refs[done:]:
                self.ray.cancel(ref)

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.shared.clear()
        if self.started:
            self.ray.shutdown()


def check_executor(kind: str) -> str:
    """``kind`` when it names an executor; one line otherwise."""
    if kind not in EXECUTORS:
        raise ZenInputError(f"unknown executor {kind!r}; use local or ray")
    return kind


def make_executor(kind: str, steps: Steps, n_shards: int, *, workers: int, torch_threads: int | None = None,
                  ray_address: str | None = None, ray_gpus: float | str = "auto",
                  device: str = "auto") -> Executor:
    """The executor ``kind`` (``local`` or ``ray``) for ``steps``."""
    if check_executor(kind) == "ray":
        return RayExecutor(steps, workers, torch_threads, ray_address, ray_gpus, device)
    return ShardPool(steps, workers, n_shards, torch_threads)


def resolve_workers(workers: int | str | None) -> int:
    """``auto``/None: the machine's cores; otherwise a positive number of processes."""
    if workers in (None, "auto"):
        return max(1, os.cpu_count() or 1)
    return config_number({"workers": workers}, "workers", int, minimum=1)
