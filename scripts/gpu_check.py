"""GPU readiness in one run (issue 20); ``scripts/gpu_check.sh`` calls it.

On a machine with CUDA, in about 4 minutes: the ``gpu``-marked tests, a short LSTM fit on the
Copenhagen users, then ``--users`` (1M) users x ``--days`` (7) days end to end on the GPU, with
the GPU named; the results go to ``experiments/gpu.md``. Without CUDA it refuses in one line.
``--dry-run`` rehearses the same steps on the CPU (``device=cpu``, 5,000 users) and writes its
report to a temporary file instead, so the GPU path's code runs before a GPU is lent.

    bash scripts/gpu_check.sh                 # on the GPU machine
    bash scripts/gpu_check.sh --dry-run       # anywhere
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


def _gpu_name() -> str:
    """The GPU as torch and nvidia-smi name it."""
    name = f"{torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
        smi = subprocess.run(query, capture_output=True, text=True)
        if smi.returncode == 0 and smi.stdout.strip():
            name += f"; nvidia-smi: {smi.stdout.strip().splitlines()[0]}"
    return name


def _step(title: str, cmd: list[str], timeout: float, log: Path,
          env: dict | None = None) -> tuple[str, float]:
    """Run ``cmd``; its output goes to ``log``. Returns a one-line outcome and the wall seconds."""
    t0 = time.perf_counter()
    print(f"gpu_check: {title} ...", flush=True)
    with log.open("w") as out:
        try:
            rc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}).returncode
        except subprocess.TimeoutExpired:
            rc = None
    wall = time.perf_counter() - t0
    tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-1:] or [""]
    outcome = f"timed out after {timeout:.0f} s" if rc is None else \
        ("ok" if rc == 0 else f"failed (exit {rc})")
    print(f"gpu_check: {title}: {outcome} in {wall:.0f} s; {tail[0][:160]}", flush=True)
    return f"{outcome}: {tail[0][:200]}", wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the steps on the CPU, small; report in /tmp")
    parser.add_argument("--users", type=int, default=None, help="users end to end (1M; dry run 5,000)")
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--shard-users", type=int, default=None, help="users per shard (100k; dry run 2,500)")
    parser.add_argument("--workers", default="4", help="shard processes, each with its own CUDA context")
    parser.add_argument("--epochs", type=int, default=3, help="LSTM training epochs (a short fit)")
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        print(f"gpu_check: refused: no CUDA device here (torch {torch.__version__}, "
              "torch.cuda.is_available() is False); run it on a GPU machine, or pass --dry-run for the "
              "CPU rehearsal", file=sys.stderr)
        return 2
    device = "cpu" if args.dry_run else "cuda"
    users = args.users or (5_000 if args.dry_run else 1_000_000)
    shard = args.shard_users or (2_500 if args.dry_run else 100_000)
    work = Path(tempfile.mkdtemp(prefix="zen-gpu-check-"))
    report = work / "gpu.md" if args.dry_run else REPO / "experiments" / "gpu.md"
    gpu = _gpu_name() if not args.dry_run else f"none (dry run on the CPU, {platform.processor() or 'cpu'})"
    print(f"gpu_check: device {gpu}; scratch {work}", flush=True)
    py = sys.executable
    slack = 5 if args.dry_run else 1  # a loaded CPU is slower than the GPU the limits are set for
    pytest = [py, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", f"--basetemp={work}/pytest"]
    tests, t_tests = _step("gpu-marked tests", pytest, 100 * slack, work / "pytest.log",
                           env={"ZEN_GPU_DRY_RUN": "1"} if args.dry_run else {"ZEN_GPU_CHECK": "1"})
    model = work / "train" / "model"
    trained, t_train = _step("LSTM fit", [py, "-m", "zen.cli.train", f"hydra.run.dir={work}/train",
                                          f"trainer.max_epochs={args.epochs}", "trainer.eval_every=0",
                                          f"device={device}"], 60 * slack, work / "train.log")
    rows = ""
    if (model / "model.json").exists():
        out = work / "dataset"
        settings = [f"n_users={users}", f"days={args.days:g}", f"shard_users={shard}",
                    f"workers={args.workers}", f"device={device}"]
        gen, t_gen = _step(f"{users:,} users x {args.days:g} days",
                           [py, "-m", "zen.cli.generate", f"model_dir={model}", f"out_dir={out}", *settings,
                            "progress=false", f"hydra.run.dir={work}/generate"], 150 * slack,
                           work / "generate.log")
        if (out / "manifest.json").exists():
            m = json.loads((out / "manifest.json").read_text())
            t = m["timings_s"]
            split = " · ".join(f"{k} {t[k]:.1f}" for k in ("setup", "population", "traffic", "mobility",
                                                             "assembly", "write") if k in t)
            rows = (f"| {users:,} | {args.days:g} | {m['rows']['records']:,} | {t_gen:.1f} s | "
                    f"{m['rows']['records'] / t_gen:,.0f} | {split} |")
    else:
        gen, t_gen = "not run: no model", 0.0
    generate = " ".join(settings) if (model / "model.json").exists() else "(not run)"
    stamp = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["n/a"]
    text = f"""# GPU check ({'dry run on the CPU' if args.dry_run else 'CUDA'})

`bash scripts/gpu_check.sh{' --dry-run' if args.dry_run else ''}`, {stamp}; GPU: {gpu};
host {platform.machine()}, {os.cpu_count()} CPU cores, /proc/loadavg {' '.join(load)}.

| step | wall | outcome |
|---|---|---|
| `pytest -m gpu` | {t_tests:.0f} s | {tests} |
| LSTM fit (`zen-train trainer.max_epochs={args.epochs} device={device}`) | {t_train:.0f} s | {trained} |
| `zen-generate {generate}` | {t_gen:.0f} s | {gen} |

End to end (whole process; the time split sums the shards' seconds, which overlap across workers):

| users | days | records | wall | records/s | time split (s) |
|---|---|---|---|---|---|
{rows or '| - | - | - | - | - | the run did not finish (see above) |'}
"""
    report.write_text(text)
    print(f"gpu_check: report written to {report}; logs in {work}", flush=True)
    return 0 if rows and tests.startswith("ok") and trained.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
