"""Console entry point ``zen-train`` (Hydra): :func:`zen.stages.train.train`."""

from zen.cli._errors import hydra_entry
from zen.stages.train import train

main = hydra_entry(train, "train")

if __name__ == "__main__":
    main()
