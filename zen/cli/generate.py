"""Console entry point ``zen-generate`` (Hydra): :func:`zen.stages.generate.generate`."""

from zen.cli._errors import hydra_entry
from zen.stages.generate import generate

main = hydra_entry(generate, "generate")

if __name__ == "__main__":
    main()
