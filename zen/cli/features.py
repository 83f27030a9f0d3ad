"""Console entry point ``zen-features`` (Hydra)."""

import hydra
from omegaconf import DictConfig

from zen.cli import CONFIG_DIR
from zen.cli._errors import run_stage
from zen.stages.features import features


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="features")
def main(cfg: DictConfig) -> None:
    run_stage(features, cfg)


if __name__ == "__main__":
    main()
