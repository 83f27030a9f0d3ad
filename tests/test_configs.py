"""Every root config and every experiment composes; typos fail here, not in a long run."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from zen.cli import CONFIG_DIR

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))


@pytest.fixture(autouse=True)
def _clear_hydra():
    GlobalHydra.instance().clear()
    yield
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("name", ["train", "generate", "evaluate"])
def test_root_configs_compose(name):
    overrides = {"train": [], "generate": ["model_dir=/tmp/m"], "evaluate": ["synthetic=/tmp/s"]}[name]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides, return_hydra_config=True)
    assert cfg.seed is not None and cfg.task_name == name


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiments_compose(experiment):
    stage = "train"
    text = (Path(CONFIG_DIR) / "experiment" / f"{experiment}.yaml").read_text()
    for candidate in ("generate", "evaluate"):
        if f"zen-{candidate} experiment={experiment}" in text:
            stage = candidate
    overrides = {"train": [], "generate": ["model_dir=/tmp/m"], "evaluate": ["synthetic=/tmp/s"]}[stage]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=stage, overrides=overrides + [f"experiment={experiment}"],
                      return_hydra_config=True)
    assert cfg.seed is not None


@pytest.mark.parametrize("model", ["baseline", "lstm"])
def test_model_presets_compose(model):
    if not (Path(CONFIG_DIR) / "model" / f"{model}.yaml").exists():
        pytest.skip(f"no model preset {model}")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"model={model}"])
    assert cfg.model.kind == model
