"""Console entry point ``zen-train`` (Hydra)."""

import hydra
from omegaconf import DictConfig

from zen.cli import CONFIG_DIR
from zen.cli._errors import run_stage
from zen.stages.train import train


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    run_stage(train, cfg)


if __name__ == "__main__":
    main()
