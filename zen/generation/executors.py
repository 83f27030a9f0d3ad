"""Where the shard steps run: one small interface, two implementations.

An executor is made with the run's named steps, ``steps[name] = (step, (spec, *rest))``, and its
``map(name, shards)`` yields ``step(spec, shard, *rest)`` for every shard, in shard order:

* :class:`ShardPool` (``executor=local``): this process, with ``workers - 1`` spawned processes;
* :class:`RayExecutor` (``executor=ray``): Ray tasks on a local or an existing Ray cluster.

Every shard step depends only on its arguments and on the files under ``out_dir`` (see
:mod:`zen.generation.pipeline`), so both write the same bytes for the same seed.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import torch

from zen.checks import config_number
from zen.generation import early
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


def _worker_main(conn, torch_threads: int | None) -> None:
    """A spawned worker: import the shard steps' modules (while the driver loads the models and
    builds the population), then run what the driver sends until it closes the pipe.

    Messages: ``("steps", None)`` followed by the pickled Steps as raw bytes (one buffer, not a
    pickled copy of it), then ``("run", (name, shard))``, each answered ``("ok", ShardResult)`` or
    ``("error", exception)``.
    """
    import pickle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it stops the workers
    torch.set_num_threads(int(torch_threads or 1))
    import zen.generation.pipeline  # noqa: F401  (the heavy imports, before any work arrives)

    steps: Steps = {}
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):  # the driver is gone or done: every result was sent, every file written
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)  # without the interpreter's teardown (~0.4 s with torch), which the driver waits for
        if kind == "steps":
            steps = pickle.loads(conn.recv_bytes())
            continue
        name, shard = payload
        try:
            step, (spec, *rest) = steps[name]
            answer = ("ok", step(spec, shard, *rest))
        except BaseException as err:  # the step's own error, raised again by the driver
            answer = ("error", err)
        try:
            conn.send(answer)
        except Exception as err:  # an exception that does not pickle: its text
            conn.send(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]} ({err})")))


def _send_steps(conn, payload: bytes) -> None:
    try:
        conn.send(("steps", None))
        conn.send_bytes(payload)
    except OSError:  # the worker is gone: the shard sent next reports it
        pass


class WorkerProcesses:
    """``n`` spawned worker processes, started at once so that their start-up (Python, torch and
    Zen imports, ~2-3 s of CPU each) overlaps the driver's set-up; :class:`ShardPool` uses them."""

    def __init__(self, n: int, torch_threads: int | None = None):
        started = early.take(n, torch_threads) or early.spawn(n, torch_threads)  # zen-generate's, if any
        self.conns = [conn for conn, _ in started]
        self.procs = [proc for _, proc in started]

    def __len__(self) -> int:
        return len(self.procs)

    def close(self, now: bool = False) -> None:
        """Stop the workers: they exit when their pipe closes; ``now`` (or after 5 s) they are
        terminated, also in the middle of a shard. Idempotent."""
        for proc in self.procs if now else ():
            proc.terminate()
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        self.conns, self.procs = [], []

    def __enter__(self) -> WorkerProcesses:
        return self

    def __exit__(self, *exc) -> None:
        self.close(now=exc[0] is not None)


def local_workers(kind: str, workers: int, n_shards: int, torch_threads: int | None = None
                  ) -> WorkerProcesses | None:
    """The spawned processes ``executor=local`` will use with ``workers`` processes in all (this
    one runs shards too: ``workers - 1`` are spawned), started now; None when it needs none."""
    n = min(workers, n_shards) - 1
    return WorkerProcesses(n, torch_threads) if kind == "local" and n > 0 else None


class ShardPool:
    """``executor=local``: the steps in this process, alone or with ``workers - 1`` spawned
    processes (:class:`WorkerProcesses`, started once for the whole run; one torch thread each,
    and here too while they run, unless ``torch_threads`` says otherwise). The shared arguments
    are pickled once and sent once per process; shards go to whichever process is free first,
    this one included, so no core waits while shards remain."""

    def __init__(self, steps: Steps, workers: int, n_shards: int, torch_threads: int | None = None,
                 processes: WorkerProcesses | None = None):
        import pickle

        self.steps, self.threads, self.senders = steps, torch_threads, []
        self.procs = processes
        if self.procs is None and workers > 1 and n_shards > 1:
            self.procs = WorkerProcesses(min(workers, n_shards) - 1, torch_threads)
        if self.procs is not None and len(self.procs):
            payload = pickle.dumps(steps, protocol=pickle.HIGHEST_PROTOCOL)
            # sent from threads: a worker still importing reads it later, and this process goes on
            self.senders = [threading.Thread(target=_send_steps, args=(conn, payload), daemon=True)
                            for conn in self.procs.conns]
            for sender in self.senders:
                sender.start()

    def _local(self, name: str, shard: Shard) -> ShardResult:
        step, (spec, *rest) = self.steps[name]
        return step(spec, shard, *rest)

    def map(self, name: str, shards: list[Shard]) -> Iterator[ShardResult]:
        if self.procs is None or not len(self.procs) or len(shards) <= 1:
            for shard in shards:
                yield self._local(name, shard)
            return
        todo, lock = list(enumerate(shards))[::-1], threading.Lock()
        results: dict[int, ShardResult] = {}
        errors: list[BaseException] = []

        def take() -> tuple[int, Shard] | None:
            with lock:
                return todo.pop() if todo and not errors else None

        def serve(conn, sender: threading.Thread) -> None:  # per worker: the next shard when it is free
            sender.join()
            while (job := take()) is not None:
                try:
                    conn.send(("run", (name, job[1])))
                    status, value = conn.recv()
                except (EOFError, OSError) as err:
                    status, value = "error", RuntimeError(f"a worker process stopped ({err!r})")
                if status == "error":
                    errors.append(value)
                    return
                results[job[0]] = value

        threads = [threading.Thread(target=serve, args=(conn, sender), daemon=True)
                   for conn, sender in zip(self.procs.conns, self.senders, strict=True)]
        for thread in threads:
            thread.start()
        before, done = torch.get_num_threads(), 0
        torch.set_num_threads(int(self.threads or 1))  # a core each, like the workers
        try:
            while (job := take()) is not None:
                results[job[0]] = self._local(name, job[1])
                while done in results and not errors:
                    yield results.pop(done)
                    done += 1
            for thread in threads:
                thread.join()
        finally:
            torch.set_num_threads(before)
        if errors:
            raise errors[0]
        while done < len(shards):
            yield results.pop(done)
            done += 1

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(self, *exc) -> None:
        if self.procs is not None:
            self.procs.close(now=exc[0] is not None)


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
                  device: str = "auto", processes: WorkerProcesses | None = None) -> Executor:
    """The executor ``kind`` (``local`` or ``ray``) for ``steps`` (``processes``: the local workers
    started earlier by :func:`local_workers`)."""
    if check_executor(kind) == "ray":
        return RayExecutor(steps, workers, torch_threads, ray_address, ray_gpus, device)
    return ShardPool(steps, workers, n_shards, torch_threads, processes)


def resolve_workers(workers: int | str | None) -> int:
    """``auto``/None: the machine's cores; otherwise a positive number of processes."""
    if workers in (None, "auto"):
        return max(1, os.cpu_count() or 1)
    return config_number({"workers": workers}, "workers", int, minimum=1)
