"""Generation in the library: a typed spec, pure shard steps, and the local driver.

    from zen.generation import GenerationSpec, generate_dataset
    spec = GenerationSpec(n_users=1000, days=7, seed=1)
    generate_dataset(spec, "outputs/model", "outputs/dataset", network, data_root)

The steps (:mod:`zen.generation.pipeline`): :func:`load_models`, :func:`build_population`,
:func:`shard_bounds`, :func:`sample_shard`, :func:`generate_shard`, :func:`resolve_mirrors`,
:func:`finish`
(``mode=mobility``: :func:`generate_stays`, :func:`finish_stays`); each shard step depends only on
its arguments and its files, so a pool or Ray can run them.
"""

from zen.generation.layout import Layout
from zen.generation.output import forget_unstarted, prepare_out_dir
from zen.generation.pipeline import (
    Models,
    Shard,
    ShardResult,
    build_population,
    finish,
    finish_stays,
    generate_shard,
    generate_stays,
    load_models,
    population_users,
    resolve_mirrors,
    sample_shard,
    shard_bounds,
)
from zen.generation.run import check_memory_fits, generate_dataset
from zen.generation.spec import FORMATS, MODES, PAIRINGS, GenerationSpec

__all__ = ["FORMATS", "MODES", "PAIRINGS", "GenerationSpec", "Layout", "Models", "Shard", "ShardResult",
           "build_population", "check_memory_fits", "finish", "finish_stays", "forget_unstarted",
           "generate_dataset", "generate_shard", "generate_stays", "load_models", "population_users",
           "prepare_out_dir", "resolve_mirrors", "sample_shard", "shard_bounds"]
