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

_WHERE = {
    "Layout": "layout", "forget_unstarted": "output", "prepare_out_dir": "output",
    **{name: "pipeline" for name in ("Models", "Shard", "ShardResult", "build_population", "finish",
                                     "finish_stays", "generate_shard", "generate_stays", "load_models",
                                     "population_users", "resolve_mirrors", "sample_shard", "shard_bounds")},
    "check_memory_fits": "run", "generate_dataset": "run",
    **{name: "spec" for name in ("FORMATS", "MODES", "PAIRINGS", "GenerationSpec")},
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """The names above, imported on first use: ``zen-generate`` imports :mod:`zen.generation.early`
    first and starts its workers before torch is imported (its module docstring)."""
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f"zen.generation.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'zen.generation' has no attribute {name!r}")
