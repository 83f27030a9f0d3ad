"""The Spark engine runs the same levels as the local engine and must give the same features.

One local SparkSession (``local[1]``, UI off) serves every test of this module; both tests are
``slow`` (run them with ``-m slow``). PySpark is an optional extra (``pip install
'zen-cdr[spark]'``) that ``.ci/run`` does not install, so the module is skipped wherever it is
missing: importing it must never break collection on a fresh machine.
"""

from __future__ import annotations

import features_data as fd
import pandas as pd
import pytest

from zen.features import FeatureParams, SparkEngine, compute_features

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'zen-cdr[spark]'); "
                    "Spark engine not tested")


@pytest.fixture(scope="module")
def spark_engine():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("zen-features-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "1").config("spark.default.parallelism", "1")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield SparkEngine(shuffle_partitions=1, session=session)
    session.stop()


def assert_same(local, spark) -> None:
    pd.testing.assert_frame_equal(local.features, spark.features, check_dtype=False, rtol=1e-9, atol=1e-12)
    for name, table in local.level2.items():
        pd.testing.assert_frame_equal(table, spark.level2[name], check_dtype=False, rtol=1e-9, atol=1e-12)
    assert local.counts == spark.counts


@pytest.mark.slow  # a SparkSession takes 30-90 s to start and run ~40 small jobs on the shared 2-core VM
def test_spark_matches_local_and_hand_computed(spark_engine):
    params = fd.params(holidays=("2024-01-02",))
    local = compute_features(fd.records(), fd.antennas(), params)
    spark = compute_features(fd.records(), fd.antennas(), params, engine=spark_engine)
    assert_same(local, spark)
    got = spark.features.set_index("cell_id")
    assert got.loc[1, "calls_ratio_var"] == pytest.approx(2.0)
    assert got.loc[1, "og_call_s_weekend_share"] == pytest.approx(2 / 3)
    assert spark.counts["antennas_suppressed"] == 1 and spark.counts["machine_users"] == 1


@pytest.mark.slow
def test_spark_matches_local_on_random_traffic(spark_engine):
    records, antennas = fd.random_dataset(seed=2, n=50_000, users=800, cells=30)
    params = FeatureParams(min_home_users=20, max_events_per_day=8, max_contacts=65, utc_offset_hours=1.0,
                           holidays=("2024-01-10",))
    local = compute_features(records, antennas, params)
    spark = compute_features(records, antennas, params, engine=spark_engine)
    assert local.counts["antennas_suppressed"] > 0 and local.counts["machine_users"] > 0
    assert_same(local, spark)
