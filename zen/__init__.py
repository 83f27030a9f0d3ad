"""Zen: learn from real Call Detail Records, generate realistic synthetic ones.

The Python API (the ``zen-*`` commands run the same functions; see :mod:`zen.api`):

- :func:`train` ``(overrides=[...], out_dir=...) -> Model``
- :func:`generate` ``(model, n_users=..., days=..., **settings) -> Dataset``
- :func:`evaluate` ``(dataset, real=..., **settings) -> Report``
- :func:`load_model`, :func:`load_dataset`, :func:`load_report`: read folders written before
- :func:`compose`: a stage's config, as the command line composes it
"""

__version__ = "0.1.0"
SCHEMA_VERSION = 1

from zen.paths import register_resolvers as _register_resolvers  # noqa: E402

_register_resolvers()

_API = ("Dataset", "Model", "Report", "compose", "evaluate", "generate", "load_dataset", "load_model",
        "load_report", "train")
__all__ = ["SCHEMA_VERSION", "__version__", *_API]


def __getattr__(name: str):
    """The API, imported on first use (``import zen`` stays light for the CLIs)."""
    if name in _API:
        from zen import api

        return getattr(api, name)
    raise AttributeError(f"module 'zen' has no attribute {name!r}")
