"""Console entry point ``zen-evaluate`` (Hydra): :func:`zen.stages.evaluate.evaluate`."""

import hydra
from omegaconf import DictConfig

from zen.cli import CONFIG_DIR
from zen.cli._errors import run_stage
from zen.stages.evaluate import evaluate


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run_stage(evaluate, cfg)


if __name__ == "__main__":
    main()
