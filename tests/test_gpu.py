"""``device=cuda``: the LSTM sampler, a whole generation, and Ray tasks with a GPU each.

Marked ``gpu``: skipped without CUDA, except under ``scripts/gpu_check.sh`` (``ZEN_GPU_CHECK=1``),
where a machine without CUDA fails them; ``gpu_check.sh --dry-run`` (``ZEN_GPU_DRY_RUN=1``) runs
the same tests with ``device=cpu`` to rehearse them where no GPU is. CUDA and CPU draw from
different random streams, so a CUDA run is checked against the contract of a CPU run, against the
counts of a CPU run of another seed, and where only one part runs on torch (the baseline traffic
model samples with numpy) against the CPU run's other columns; two CUDA runs of the same seed on
the same GPU (one local, one on Ray) must be identical.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import lstm_trainer, small_generate_config

from zen.io.dataset import read_dataset

GPU_CHECK = os.environ.get("ZEN_GPU_CHECK") == "1"
DEVICE = "cpu" if os.environ.get("ZEN_GPU_DRY_RUN") == "1" else "cuda"
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available()
                                                  and not GPU_CHECK, reason="needs CUDA")]


@pytest.fixture(autouse=True, scope="session")
def cuda():
    if DEVICE == "cuda" and not torch.cuda.is_available():
        pytest.fail("scripts/gpu_check.sh runs on a machine without CUDA")


@pytest.fixture(scope="module")
def lstm(copenhagen, tmp_path_factory):
    from zen.data import split_users
    from zen.traffic.lstm import LSTMTrafficModel

    s = split_users(copenhagen.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    model = LSTMTrafficModel(hidden=16, layers=1, n_mix=4, mark_hidden=16, profile_components=2, bptt=64,
                             eval_users=20, eval_days=2.0)
    model.fit(copenhagen.subset(s.train[:60]), copenhagen.subset(s.val[:30]),
              trainer=lstm_trainer(max_epochs=2), work_dir=tmp_path_factory.mktemp("gpu-lstm") / "model",
              device=torch.device("cpu"), seed=0)
    return model


def _contract(tl, n_users: int, days: float) -> None:
    assert np.all(np.diff(tl.user) >= 0) and tl.user.min() >= 0 and tl.user.max() < n_users
    assert np.all((tl.t_s >= 0) & (tl.t_s < days * 86400))
    same = tl.user[1:] == tl.user[:-1]
    assert np.all(np.diff(tl.t_s)[same] >= 0)
    assert np.all(tl.duration_s >= 0)


def test_lstm_samples_on_cuda_keep_the_contract_and_the_counts(lstm):
    n, days, start = 1500, 3.0, "2013-02-04"
    gpu = lstm.sample(n, days, start, seed=1, device=DEVICE)
    cpu = lstm.sample(n, days, start, seed=2, device="cpu")
    _contract(gpu, n, days)
    # six CPU seeds of this model at 1,500 users x 3 days: counts within 0.98-1.05 of each other
    assert 0.85 < len(gpu) / len(cpu) < 1.18, (len(gpu), len(cpu))
    again = lstm.sample(n, days, start, seed=1, device=DEVICE)
    assert np.array_equal(gpu.t_s, again.t_s) and np.array_equal(gpu.contact_rank, again.contact_rank)


def test_a_cuda_generation_differs_from_cpu_only_in_cells_and_repeats_on_ray(model_dir, dataset, tmp_path):
    """The baseline traffic model samples with numpy, so on CUDA only the mobility emulator moves:
    the same records as on the CPU but for their cells, and the same population tables."""
    from zen.io import read_table
    from zen.stages.generate import generate

    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    one = tmp_path / "cuda"
    generate(small_generate_config(model_dir, one, device=DEVICE))
    if DEVICE == "cuda":
        assert torch.cuda.max_memory_allocated() > 0  # the emulator ran on the GPU
    gpu, cpu = read_table(one / "records"), read_table(dataset / "records")
    assert gpu.drop(columns="cell_id").equals(cpu.drop(columns="cell_id"))
    assert gpu["cell_id"].isin(read_table(one / "antennas.parquet")["cell_id"]).all()
    files = {d: read_dataset(d).manifest["checksums"] for d in (one, dataset)}
    assert all(files[one][k] == files[dataset][k] for k in ("users.parquet", "edges.parquet"))
    pytest.importorskip("ray")
    on_ray = tmp_path / "cuda-ray"
    generate(small_generate_config(model_dir, on_ray, device=DEVICE, executor="ray", workers=2))
    assert read_dataset(on_ray).manifest["checksums"] == files[one]
