"""Console entry point ``zen-generate`` (Hydra)."""

import hydra
from omegaconf import DictConfig

from zen.cli import CONFIG_DIR
from zen.cli._errors import run_stage
from zen.stages.generate import generate


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="generate")
def main(cfg: DictConfig) -> None:
    run_stage(generate, cfg)


if __name__ == "__main__":
    main()
