"""Antenna-level features from CDRs (gnuper-style levels 0-4), on DuckDB or Spark.

``compute_features(records, antennas, params, engine="local")`` is the library entry point;
``zen.stages.features.features(cfg)`` is the stage (``zen-features``).
"""

from zen.features.compute import compute_features
from zen.features.engines import DuckDBEngine, SparkEngine, make_engine
from zen.features.params import FeatureParams, HourWindow
from zen.features.pipeline import LevelOutput

__all__ = ["DuckDBEngine", "FeatureParams", "HourWindow", "LevelOutput", "SparkEngine", "compute_features",
           "make_engine"]
