"""Console entry point ``zen-features`` (Hydra): :func:`zen.stages.features.features`."""

from zen.cli._errors import hydra_entry
from zen.stages.features import features

main = hydra_entry(features, "features")

if __name__ == "__main__":
    main()
