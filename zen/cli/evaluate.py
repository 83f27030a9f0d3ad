"""Console entry point ``zen-evaluate`` (Hydra): :func:`zen.stages.evaluate.evaluate`."""

from zen.cli._errors import hydra_entry
from zen.stages.evaluate import evaluate

main = hydra_entry(evaluate, "evaluate")

if __name__ == "__main__":
    main()
