"""Console entry point ``zen-data`` (Hydra): ``zen-data check data=<yours>``."""

import sys

from omegaconf import DictConfig

from zen.cli._errors import hydra_entry
from zen.stages.data import check

COMMANDS = ("check",)


def data(cfg: DictConfig) -> None:  # named as the command: errors print zen-data
    check(cfg)


_check = hydra_entry(data, "data_check")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print("usage: zen-data check data=<your data config> [key=value ...]", file=sys.stderr)
        sys.exit(2)
    del sys.argv[1]
    _check()


if __name__ == "__main__":
    main()
