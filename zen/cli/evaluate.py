"""``zen-evaluate``: the Hydra entry of :func:`zen.stages.evaluate.evaluate`."""

import hydra
from omegaconf import DictConfig

from zen.cli._errors import run_stage
from zen.stages.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="../../configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run_stage(evaluate, cfg)


if __name__ == "__main__":
    main()
