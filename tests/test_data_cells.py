"""The generic loader on an operator export with cells: the antennas join, the calendar rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import require_data
from zen.data import load_generic
from zen.schema import ZenInputError

MAPPING = {"columns": {"user_id": "uid", "timestamp": "unix_time", "cell_id": "bs_index"},
           "epoch_unit": "s", "constants": {"event": "data", "direction": "out"},
           "read_options": {"header": None, "names": ["uid", "unix_time", "bs_index"]}}
CALENDAR = {"timezone": "Asia/Shanghai", "clock": "local", "whole_hours": "drop", "min_day_share": 0.1,
            "compact": True}


def _files(tmp_path, rows, cells=((7, 120.1, 30.2), (8, 120.2, 30.3), (9, -145.0, 0.0))):
    events = tmp_path / "events.dat"
    events.write_text("".join(f"{u},{t},{c}\n" for u, t, c in rows))
    antennas = tmp_path / "cells.dat"
    antennas.write_text("".join(f"{c},55{c},{lon},{lat}\n" for c, lon, lat in cells))
    spec = {"path": str(antennas), "columns": {"cell_id": "bs_index", "lat": "lat", "lon": "lon"},
            "read_options": {"header": None, "names": ["bs_index", "lac_ci", "lon", "lat"]},
            "bbox": [117.0, 26.0, 123.5, 32.0]}
    return events, spec


T0 = 1345057200  # 2012-08-15 19:00 UTC = 2012-08-16 03:00 in Asia/Shanghai


def test_cells_join_and_local_clock(tmp_path):
    rows = [(0, T0 + 60.5, 7), (0, T0 + 3 * 3600 + 1, 8), (1, T0 + 7200.25, 8)]
    events, cells = _files(tmp_path, rows)
    data = load_generic(events, MAPPING, cells=cells, calendar={**CALENDAR, "whole_hours": "keep"})
    assert list(data.records["cell_id"]) == [7, 8, 8]
    assert set(data.antennas["cell_id"]) == {7, 8}  # cell 9 (0°N, lon -145) is outside the bbox
    first = data.records["timestamp"].iloc[0]
    assert (first.hour, first.minute, first.second) == (3, 1, 0)  # local wall clock, not 19:01 UTC
    assert str(data.start) == "2012-08-16 00:00:00+00:00" and data.days == 1.0
    assert (data.records["event"] == "data").all() and (data.records["direction"] == "out").all()
    utc = load_generic(events, MAPPING, cells=cells, calendar={**CALENDAR, "clock": "utc"})
    assert utc.records["timestamp"].iloc[0].hour == 19


def test_missing_cell_is_one_line_naming_the_id(tmp_path):
    events, cells = _files(tmp_path, [(0, T0 + 61, 7), (0, T0 + 99, 1234)])
    with pytest.raises(ZenInputError) as err:
        load_generic(events, MAPPING, cells=cells)
    text = str(err.value)
    assert "cell 1234" in text and "row 2" in text and "'cell_id'" in text and "\n" not in text
    events, cells = _files(tmp_path, [(0, T0 + 61, 9)])  # in the file, but mislocated
    with pytest.raises(ZenInputError, match="cell 9 "):
        load_generic(events, MAPPING, cells=cells)
    data = load_generic(events, MAPPING, cells={**cells, "missing": "unknown"})
    assert list(data.records["cell_id"]) == [-1]


def test_whole_hours_dropped_and_days_observed_compacted(tmp_path):
    day = 86400
    rows = [(0, T0 + k * 600 + 7, 7) for k in range(40)]           # local day 1: 40 events
    rows += [(0, T0 + day + 3600, 8)]                              # day 2: one dump row at 04:00 sharp
    rows += [(0, T0 + 2 * day + 11, 8)]                            # day 3: one event (partial log)
    rows += [(1, T0 + 40 * day + k * 900 + 5, 8) for k in range(30)]  # 40 days later: 30 events
    events, cells = _files(tmp_path, rows)
    data = load_generic(events, MAPPING, cells=cells, calendar=CALENDAR)
    meta = data.meta["calendar"]
    assert meta["whole_hour_rows_dropped"] == 1
    assert meta["unobserved_days"] == ["2012-08-18"] and meta["unobserved_day_rows_dropped"] == 1
    assert data.days == 2.0 and len(data.records) == 70
    later = data.records[data.records["user_id"] == 1]["timestamp"]
    assert str(later.dt.date.iloc[0]) == "2012-08-17"  # the later day follows the first one
    assert later.iloc[0].hour == 3 and later.iloc[0].minute == 0 and later.iloc[0].second == 5
    assert data.records["user_id"].is_monotonic_increasing


def test_hangzhou_through_the_generic_loader(compose):
    require_data("hangzhou", "hcl.dat")
    from zen.stages.common import load_real

    cfg = compose("train", ["data=hangzhou"])
    data, split = load_real(cfg.data)
    meta = data.meta["calendar"]
    assert meta["rows_read"] == 20_000 and meta["whole_hour_rows_dropped"] > 1500
    assert data.days == 19.0 and data.records["user_id"].nunique() == 130
    assert data.records["cell_id"].isin(data.antennas["cell_id"]).all()
    hours = np.bincount(data.records["timestamp"].dt.hour, minlength=24)
    assert hours[4] < hours[10] / 3  # the local night: least use before dawn
    assert len(split.holdout) == 32 and len(split.train) == 78


def test_network_hangzhou_builds_site_places(shared_data):
    require_data("hangzhou", "hcl_bm.dat")
    from pathlib import Path

    import yaml

    from zen.network import build_infrastructure

    cfg = yaml.safe_load((Path(__file__).parents[1] / "zen/configs/network/hangzhou.yaml").read_text())
    antennas, places = build_infrastructure(cfg, shared_data, seed=0)
    assert len(antennas) == 36_632 and antennas.attrs["outside_bbox"] == 1
    assert len(places) > 36_000 and places["cell_id"].isin(antennas["cell_id"]).all()
    assert np.isclose(places["home_weight"].sum(), 1.0) and (places["work_weight"] > 0).all()
    assert pd.Series(places["lat"]).between(26, 32).all()
