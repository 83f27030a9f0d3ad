"""Shared fixtures. Tests that need ../shared/data fail loudly under CI=true when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ZEN_DATA") or os.environ.get("ZEN_SHARED_DATA")
                   or REPO.parent / "shared" / "data")


def require_data(*parts: str) -> Path:
    """Path under the shared data folder; fails under CI=true, skips elsewhere, when missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"real data not found at {path} (set ZEN_DATA or put ../shared beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def copenhagen_dir() -> Path:
    return require_data("copenhagen")


@pytest.fixture(scope="session")
def copenhagen(copenhagen_dir):
    from zen.data import load_copenhagen

    return load_copenhagen(copenhagen_dir)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_data()


def compose_config(name: str, overrides: list[str]):
    """Compose a root config (train / generate / evaluate) as the CLI would, without running it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from zen.cli import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides)
    GlobalHydra.instance().clear()
    return cfg


def small_generate_config(model_dir: Path, out: Path, **extra):
    """A generate config for a small synthetic-city run (300 users, 3 days, 3 shards)."""
    settings = {"n_users": 300, "days": 3, "shard_users": 120, "progress": "false", "device": "cpu",
                "network": "synthetic_city", "workers": 1}
    settings.update(extra)
    overrides = [f"model_dir={model_dir}", f"out_dir={out}"] + [f"{k}={v}" for k, v in settings.items()]
    return compose_config("generate", overrides)


@pytest.fixture(scope="session")
def compose():
    return compose_config


@pytest.fixture(scope="session")
def generate_cfg():
    return small_generate_config


@pytest.fixture(scope="session")
def baseline_model_dir(tmp_path_factory, copenhagen_dir) -> Path:
    """A baseline model trained on the Copenhagen training users (once per test session)."""
    from zen.stages.train import train

    out = tmp_path_factory.mktemp("train") / "model"
    train(compose_config("train", ["model=baseline", f"model_dir={out}", f"data.loader.path={copenhagen_dir}",
                                   "device=cpu"]))
    return out


@pytest.fixture(scope="session")
def hangzhou_model_dir(tmp_path_factory) -> Path:
    """A baseline model trained on Hangzhou with a small two-parameter cell calibration and the
    traffic <-> mobility coupling (once per test session: the Hangzhou and coupling tests share it)."""
    require_data("hangzhou", "hcl.dat")
    from zen.stages.train import train

    out = tmp_path_factory.mktemp("hangzhou") / "model"
    train(compose_config("train", [
        "data=hangzhou", "model=baseline", f"model_dir={out}", "device=cpu",
        "mobility.cells.fit=[serving_main_prob]", "mobility.cells.max_evals=4",
        "mobility.cells.n_boot=5"]))
    return out


@pytest.fixture(scope="session")
def model_dir(baseline_model_dir) -> Path:
    """The baseline model folder that the generation tests share."""
    return baseline_model_dir


@pytest.fixture(scope="session")
def dataset(model_dir, tmp_path_factory) -> Path:
    """A small dataset (300 users, 3 days, 3 shards on the synthetic city), generated once."""
    from zen.stages.generate import generate

    out = tmp_path_factory.mktemp("gen") / "dataset"
    generate(small_generate_config(model_dir, out))
    return out


def lstm_trainer(**overrides) -> dict:
    """Trainer settings for small LSTM fits in tests (3 epochs, batches of 16 users)."""
    cfg = {"max_epochs": 3, "max_steps": None, "batch_size": 16, "lr": 1e-2, "weight_decay": 1e-4,
           "grad_clip": 1.0, "patience": 10, "eval_every": 0, "amp": False}
    return {**cfg, **overrides}


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors on a shared 2-core machine: one intra-op thread avoids spin contention."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


AMD_ZEN4, INTEL_SPR = ("AVX512", False), ("AVX512", True)  # the CPU platforms digests were recorded on


def cpu_platform() -> tuple[str, bool]:
    """What decides how torch's and numpy's CPU kernels round: torch's CPU capability and numpy's
    Sapphire-Rapids AVX-512 dispatch (AMD Zen 4 and Intel Sapphire Rapids differ in sampled digests)."""
    import torch
    from numpy._core._multiarray_umath import __cpu_features__

    return torch.backends.cpu.get_cpu_capability(), bool(__cpu_features__.get("AVX512_SPR"))


def check_recorded(value: str, recorded: dict, what: str) -> None:
    """``value`` equals the digest ``recorded`` for this CPU platform; skipped (saying how to add
    it) on a platform none was recorded for."""
    import pytest

    expected = recorded.get(cpu_platform())
    if expected is None:
        pytest.skip(f"no {what} digest recorded for CPU platform {cpu_platform()}: run the recording "
                    "commit's code with this test and add it")
    assert value == expected


def grid_places(n_side: int = 14, step_deg: float = 0.01):
    """A square grid of places, ~1.1 km apart at 0.01 degrees, each its own cell (ids from 1000)."""
    import numpy as np
    import pandas as pd

    i, j = np.meshgrid(np.arange(n_side), np.arange(n_side))
    n = n_side * n_side
    return pd.DataFrame({"place_id": np.arange(n), "lat": 30.0 + step_deg * i.ravel(),
                         "lon": 120.0 + step_deg * j.ravel(), "home_weight": 1.0 / n,
                         "work_weight": 1.0 / n, "cell_id": 1000 + np.arange(n)})


def daytime_events(n_users: int, days: float, rng, events_per_day: float = 12.0, rate_sd: float | None = None,
                   min_events: int = 0):
    """Event times (``CellEvents`` without cells) with a day-time rhythm (hour ~ N(14, 4.5)):
    Poisson counts of ``events_per_day`` per user, or of a log-normal rate of median
    ``events_per_day`` and log-sd ``rate_sd``; at least ``min_events`` per user."""
    import numpy as np

    from zen.mobility.cdr_calibration import CellEvents

    user, t = [], []
    rate = np.full(n_users, events_per_day) if rate_sd is None else \
        np.exp(rng.normal(np.log(events_per_day), rate_sd, n_users))
    for u in range(n_users):
        n = max(min_events, rng.poisson(rate[u] * days))
        day = rng.integers(0, int(days), n)
        hour = np.clip(rng.normal(14, 4.5, n), 0, 23.99)
        user.append(np.full(n, u))
        t.append(np.sort(day * 86400.0 + hour * 3600.0))
    t = np.concatenate(t)
    zeros = np.zeros(len(t))
    return CellEvents(np.concatenate(user), t, (t % 86400 // 3600).astype(int), zeros, zeros, zeros)
