"""Zen: learn from real Call Detail Records, generate realistic synthetic ones."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1

from zen.paths import register_resolvers as _register_resolvers  # noqa: E402

_register_resolvers()
