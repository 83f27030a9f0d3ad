"""Zen: learn from real Call Detail Records, generate realistic synthetic ones."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
