"""Cell-level mobility measures on hand-made located events with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.evaluation import mobility as m
from zen.evaluation.sample import CDRSample
from zen.geo import haversine_m
from zen.measures import mobility as cells


def test_top_cell_share_and_entropy_inputs():
    share = cells.top_cell_share(np.array([1, 1, 1, 1, 2, 2]), np.array([5, 5, 5, 6, 7, 8]))
    assert share.to_dict() == {1: 0.75, 2: 0.5}


def test_jump_lengths_skip_users_and_zero_moves():
    user = np.array([0, 0, 0, 1, 1])
    lat = np.array([30.0, 30.0, 30.1, 31.0, 31.0])
    lon = np.array([120.0, 120.0, 120.0, 120.0, 120.1])
    jumps = cells.jump_lengths_m(user, lat, lon)
    assert jumps == pytest.approx([haversine_m(30.0, 120.0, 30.1, 120.0),
                                   haversine_m(31.0, 120.0, 31.0, 120.1)])
    assert jumps[0] == pytest.approx(11_119.5, rel=1e-3)  # 0.1° of latitude


def test_dwell_times_and_distinct_cells_per_week():
    user = np.array([0, 0, 0, 0, 1, 1])
    t = np.array([0.0, 100.0, 250.0, 900.0, 5.0, 8.0 * 86400])
    cell = np.array([3, 3, 3, 4, 3, 3])
    assert sorted(cells.dwell_times_s(user, t, cell)) == [250.0, 8 * 86400 - 5.0]  # run of one event: none
    per_week = cells.distinct_cells_per_week(user, t, cell)
    assert per_week.to_dict() == {0: 2.0, 1: 1.0}  # user 1: one cell in each of two weeks


def test_home_cell_and_away_share_by_hour():
    user = np.zeros(6, dtype=int)
    hours = np.array([23, 2, 10, 10, 10, 14])
    cell = np.array([1, 1, 1, 2, 2, 2])  # cell 2 is the most used, cell 1 the night cell
    assert cells.home_cells(user, hours, cell).to_dict() == {0: 1}
    away = cells.away_share_by_hour(user, hours, cell)
    assert away[10] == pytest.approx(2 / 3) and away[14] == 1.0 and away[23] == 0.0 and np.isnan(away[5])


def test_cluster_density_and_od_flows():
    lat = np.array([30.001, 30.001, 30.031, 30.001, 30.001])
    lon = np.array([120.001, 120.002, 120.001, 120.001, 120.001])
    user = np.array([0, 0, 0, 0, 1])
    density = cells.cluster_density(lat, lon)
    assert sorted(density.to_numpy()) == pytest.approx([0.2, 0.8])
    flows = cells.od_flows(user, lat, lon)
    assert len(flows) == 2 and flows.to_numpy() == pytest.approx([0.5, 0.5])  # there and back
    assert m.distribution_tv(flows, flows) == 0.0
    a, b = pd.Series({"x": 1.0}), pd.Series({"y": 1.0})
    assert m.distribution_tv(a, b) == 1.0


def _sample(records: pd.DataFrame, label: str) -> CDRSample:
    antennas = pd.DataFrame({"cell_id": [1, 2, 3], "site_id": [1, 2, 3], "lat": [30.0, 30.05, 30.3],
                             "lon": [120.0, 120.05, 120.3]})
    return CDRSample(records, pd.Timestamp("2012-08-16", tz="UTC"), 2.0, antennas, label)


def _records(users, cells, hours):
    ts = pd.Timestamp("2012-08-16", tz="UTC") + pd.to_timedelta(np.asarray(hours, float), unit="h")
    return pd.DataFrame({"user_id": users, "timestamp": ts, "event": "data", "direction": "out",
                         "duration_s": 0.0, "answered": True, "counterpart_id": -1, "cell_id": cells,
                         "volume_bytes": -1})


def test_mobility_scores_zero_against_itself_and_positive_otherwise():
    real = _sample(_records([0, 0, 0, 1, 1], [1, 2, 1, 3, 3], [1, 10, 23, 2, 12]), "real")
    same = _sample(real.records.copy(), "copy")
    scores, skipped = m.mobility_scores(same, real)
    assert not skipped and all(v == 0 for v in scores.values())
    assert {"cells/jump_length_m/ks", "cells/od_flows/tv", "cells/cluster_density/tv",
            "cells/top_cell_share/ks", "cells/away_share_by_hour/mean_abs_diff",
            "cells/dwell_time_s/ks", "cells/distinct_cells_per_week/ks"} <= set(scores)
    static = _sample(_records([0, 0, 0, 1, 1], [1, 1, 1, 3, 3], [1, 10, 23, 2, 12]), "static")
    scores, skipped = m.mobility_scores(static, same)
    assert scores["cells/top_cell_share/ks"] == 0.5
    assert scores["cells/cluster_density/tv"] == pytest.approx(0.2)  # 1/5 of the events changed cluster
    assert "cells/od_flows" in skipped  # nobody moves between clusters in the static sample
    fig = m.density_maps([real, static])
    fig2 = m.mobility_ccdfs([real, static])
    assert len(fig.axes) >= 2 and len(fig2.axes) == 2
