"""Console entry point ``zen-data`` (Hydra): ``zen-data check data=<yours>``."""

import sys

import hydra
from omegaconf import DictConfig

from zen.cli import CONFIG_DIR
from zen.cli._errors import run_stage
from zen.stages.data import check

COMMANDS = ("check",)


def data(cfg: DictConfig) -> None:  # named as the command: run_stage prints zen-data
    check(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="data_check")
def _check(cfg: DictConfig) -> None:
    run_stage(data, cfg)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print("usage: zen-data check data=<your data config> [key=value ...]", file=sys.stderr)
        sys.exit(2)
    del sys.argv[1]
    _check()


if __name__ == "__main__":
    main()
