"""The shared measures (zen.measures): one definition each, checked against first principles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from zen.geo import EARTH_RADIUS_M, LocalProjection, haversine_m
from zen.measures.graph import local_clustering
from zen.measures.mobility import radius_of_gyration
from zen.measures.traffic import EPOCH, hour_of_week


def test_hour_of_week_is_the_clock_hour_of_the_instant():
    rng = np.random.default_rng(0)
    when = pd.Series(pd.to_datetime(rng.integers(1.3e9, 1.8e9, 500), unit="s", utc=True))
    expected = when.dt.day_of_week.to_numpy() * 24 + when.dt.hour.to_numpy()
    assert np.array_equal(hour_of_week((when - EPOCH).dt.total_seconds().to_numpy()), expected)
    start = pd.Timestamp("2013-02-04 00:30", tz="UTC")  # a Monday, half past midnight
    assert hour_of_week(np.array([0.0, 1799.0, 1800.0, 7 * 86400.0]), start).tolist() == [0, 0, 1, 0]


def test_radius_of_gyration_weights_and_units():
    d = np.degrees(1000.0 / EARTH_RADIUS_M)  # 1 km of latitude
    user, lat, lon = np.array([7, 7, 9]), np.array([0.0, 2 * d, 5.0]), np.zeros(3)
    rg = radius_of_gyration(user, lat, lon)
    assert rg.name == "radius_of_gyration_m" and rg.loc[9] == 0.0
    assert rg.loc[7] == pytest.approx(1000.0, rel=1e-6)
    # weights 3:1 put the centre 0.5 km from the first point: sqrt((3 * 0.5² + 1.5²) / 4) km
    weighted = radius_of_gyration(user, lat, lon, weights=np.array([3.0, 1.0, 1.0]))
    assert weighted.loc[7] == pytest.approx(1000.0 * np.sqrt((3 * 0.25 + 2.25) / 4), rel=1e-6)


def test_local_clustering_of_a_triangle_with_a_tail():
    # 0-1-2 triangle, 2-3 tail: C = 1, 1, 1/3, 0
    i, j = np.array([0, 1, 2, 2]), np.array([1, 2, 0, 3])
    adj = sparse.coo_matrix((np.ones(4), (i, j)), shape=(4, 4)).tocsr()
    adj = ((adj + adj.T) > 0).astype(float).tocsr()
    np.testing.assert_allclose(local_clustering(adj), [1.0, 1.0, 1 / 3, 0.0])
    np.testing.assert_allclose(local_clustering(adj, np.array([3, 2])), [0.0, 1 / 3])


def test_one_radius_for_the_projection_and_the_great_circle():
    proj = LocalProjection(55.7, 12.5)
    lat, lon = proj.to_latlon(np.array([[300.0, 400.0]]))
    assert haversine_m(55.7, 12.5, lat, lon)[0] == pytest.approx(500.0, rel=1e-3)
