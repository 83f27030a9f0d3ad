"""Console entry point ``zen-generate`` (Hydra): :func:`zen.stages.generate.generate`.

The stage is imported once Hydra has composed the settings, after the local shard workers are
started (:mod:`zen.generation.early`): their imports then overlap this process's own.
"""

from omegaconf import DictConfig

from zen.cli._errors import hydra_entry


def generate(cfg: DictConfig) -> dict[str, float]:
    """:func:`zen.stages.generate.generate`, its local workers started first."""
    from zen.generation.early import start_for

    start_for(cfg)
    from zen.stages.generate import generate as stage

    return stage(cfg)


main = hydra_entry(generate, "generate")

if __name__ == "__main__":
    main()
