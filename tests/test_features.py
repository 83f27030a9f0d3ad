"""zen-features on the local (DuckDB) engine: hand-computed features per level, k-anonymity,
machine filter, calendar, secure intermediate folder, bad input, and real Copenhagen traffic."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import features_data as fd
import numpy as np
import pandas as pd
import pytest

from zen.features import FeatureParams, compute_features
from zen.schema import ZenInputError

KM_PER_DEGREE = 6371.0088 * math.pi / 180  # along the equator
NAN = float("nan")


@pytest.fixture(scope="module")
def small():
    return compute_features(fd.records(), fd.antennas(), fd.params())


def row(frame: pd.DataFrame, cell: int) -> pd.Series:
    return frame.set_index("cell_id").loc[cell]


def assert_features(out, cell: int, **expected: float) -> None:
    got = row(out.features, cell)
    for name, value in expected.items():
        if math.isnan(value):
            assert math.isnan(got[name]), f"cell {cell} {name}: expected NaN, got {got[name]}"
        else:
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), f"cell {cell} {name}"


def test_levels_0_1_machines_homes_and_suppression(small):
    assert small.counts == {"users": 6, "machine_users": 1, "users_with_home": 5, "antennas_kept": 2,
                            "antennas_suppressed": 1, "users_in_suppressed": 1}
    assert small.features["cell_id"].tolist() == [1, 2]  # antenna 3 has 1 < k = 2 home users
    assert small.features["home_users"].tolist() == [2, 2]
    assert small.features[["lat", "lon"]].to_numpy().tolist() == [[0.0, 0.0], [0.0, 1.0]]


def test_level2_week_hour_pairs(small):
    week = small.level2["antenna_week"]
    cell1 = week[week["cell_id"] == 1].set_index(["week", "week_part"])
    assert cell1.loc[(2818, "workday"), ["og_calls", "ic_calls", "og_sms", "ic_sms"]].tolist() == [2, 0, 2, 0]
    assert cell1.loc[(2818, "weekend"), ["ic_calls", "ic_call_s"]].tolist() == [1, 50.0]
    assert cell1.loc[(2819, "workday"), ["ic_calls", "ic_sms"]].tolist() == [1, 1]
    hour = small.level2["antenna_hour"]
    assert row(hour[hour["hour"] == 12], 2)["data_sessions"] == 1  # user 20's data session, at 12 UTC
    assert set(hour["cell_id"]) == {1, 2}
    pairs = small.level2["antenna_pairs"].set_index(["cell_id", "other_cell"])
    assert pairs[["calls", "sms", "call_s"]].to_dict("index") == {
        (1, -1): {"calls": 1, "sms": 0, "call_s": 200.0},  # to user 30, whose antenna is suppressed
        (1, 1): {"calls": 0, "sms": 2, "call_s": 0.0},
        (1, 2): {"calls": 1, "sms": 0, "call_s": 100.0},
        (2, 1): {"calls": 2, "sms": 1, "call_s": 50.0},
    }
    for table in small.level2.values():
        assert "user_id" not in table.columns


def test_level3_alltime_and_scaled(small):
    assert_features(small, 1,
        calls_ratio=1.0, sms_ratio=2.0, call_s_ratio=6.0, sms_per_call=0.75, calls_per_user=2.0,
        sms_per_user=1.5, data_sessions_per_user=0.0, scaled_og_calls=NAN, scaled_ic_calls=1.0,
        scaled_og_call_s=1.0, scaled_ic_call_s=0.0, scaled_data_sessions=0.0)
    assert_features(small, 2,
        calls_ratio=2.0, sms_ratio=NAN, call_s_ratio=0.5, sms_per_call=1 / 3, calls_per_user=1.5,
        sms_per_user=0.5, data_sessions_per_user=0.5, scaled_ic_calls=0.0, scaled_ic_sms=0.0,
        scaled_data_sessions=1.0)


def test_level3_variance_daily_hourly(small):
    # weekly calls ratio of antenna 1: 2/1 then 0/1 -> sample variance 2; antenna 2 has one finite week
    assert_features(small, 1,
        calls_ratio_var=2.0, sms_ratio_var=NAN, call_s_ratio_var=NAN, og_calls_weekend_share=0.0,
        ic_calls_weekend_share=0.5, ic_call_s_weekend_share=1.0, og_sms_weekend_share=0.0,
        og_calls_work_share=0.5, ic_calls_work_share=0.0, og_sms_work_share=0.5,
        og_calls_peak_ratio=NAN, ic_calls_peak_ratio=1.0, ic_sms_peak_ratio=0.0)
    assert_features(small, 2,
        calls_ratio_var=NAN, og_calls_weekend_share=0.5, og_call_s_weekend_share=1.0,
        ic_sms_weekend_share=NAN, og_calls_work_share=0.0, og_calls_peak_ratio=1.0,
        og_sms_peak_ratio=NAN)


def test_level3_interactions(small):
    assert_features(small, 1,
        calls_dist_mean_km=KM_PER_DEGREE, calls_isolation=0.0, calls_entropy=math.log(2),
        sms_dist_mean_km=0.0, sms_isolation=1.0, sms_entropy=0.0)
    assert_features(small, 2,
        calls_dist_mean_km=KM_PER_DEGREE, calls_isolation=0.0, calls_entropy=0.0,
        sms_dist_mean_km=KM_PER_DEGREE)


def test_k_threshold_one_keeps_every_antenna():
    out = compute_features(fd.records(), fd.antennas(), fd.params(min_home_users=1))
    assert out.features["cell_id"].tolist() == [1, 2, 3]
    assert out.counts["antennas_suppressed"] == 0
    pairs = out.level2["antenna_pairs"]
    assert -1 not in set(pairs["other_cell"]) and ((pairs["cell_id"] == 1) & (pairs["other_cell"] == 3)).any()
    assert_features(out, 1,
        calls_dist_mean_km=KM_PER_DEGREE, calls_entropy=math.log(2))


def test_k_threshold_above_every_antenna_gives_no_rows():
    out = compute_features(fd.records(), fd.antennas(), fd.params(min_home_users=3))
    assert len(out.features) == 0 and out.counts["antennas_suppressed"] == 3
    assert all(len(t) == 0 for t in out.level2.values())


def test_holidays_count_as_weekend():
    out = compute_features(fd.records(), fd.antennas(), fd.params(holidays=("2024-01-02",)))
    assert_features(out, 1,
        og_calls_weekend_share=0.5, og_sms_weekend_share=0.5, og_call_s_weekend_share=2 / 3,
        ic_calls_weekend_share=0.5)


def test_contact_filter_and_utc_offset():
    out = compute_features(fd.records(), fd.antennas(), fd.params(max_contacts=2))
    assert out.counts["machine_users"] == 3  # users 10 and 11 (3 contacts each) and 99 (busy)
    shifted = compute_features(fd.records(), fd.antennas(), fd.params(utc_offset_hours=-2.0))
    # 2 h earlier: r6 (09:30 UTC) leaves both the working hours and the morning peak
    assert_features(shifted, 1,
        og_calls_work_share=0.0)


def test_time_zone_is_the_users_clock_with_daylight_saving(tmp_path):
    records, antennas = fd.random_dataset(seed=2)
    summer = records.assign(timestamp=records["timestamp"] + pd.Timedelta(days=182))  # CEST: UTC+2
    by_zone = compute_features(summer, antennas, fd.params(timezone="Europe/Copenhagen"))
    by_offset = compute_features(summer, antennas, fd.params(utc_offset_hours=2.0))
    in_utc = compute_features(summer, antennas, fd.params())
    pd.testing.assert_frame_equal(by_zone.features, by_offset.features)
    assert not by_zone.features.equals(in_utc.features)
    with pytest.raises(ZenInputError, match="set one of them"):
        fd.params(timezone="Europe/Copenhagen", utc_offset_hours=1.0)
    with pytest.raises(ZenInputError, match="unknown time zone 'Mars/Olympus'.*levels.timezone"):
        fd.params(timezone="Mars/Olympus")

    from zen.io.dataset import write_dataset  # a dataset folder's own zone is the default

    write_dataset(tmp_path / "dataset", summer, pd.Timestamp("2024-07-01", tz="UTC"), 14,
                  antennas=antennas, manifest={"timezone": "Europe/Copenhagen"})
    overrides = ["levels.min_home_users=1", f"hydra.run.dir={tmp_path}/run"]
    for name, extra in (("own", []), ("utc", ["levels.timezone=UTC"])):
        done = _cli(f"dataset={tmp_path / 'dataset'}", f"out_dir={tmp_path / name}", *overrides, *extra)
        assert done.returncode == 0, done.stderr
    own = pd.read_parquet(tmp_path / "own" / "features.parquet")
    expected = compute_features(summer, antennas,
                                FeatureParams(timezone="Europe/Copenhagen", min_home_users=1))
    pd.testing.assert_frame_equal(own, expected.features, check_dtype=False)
    assert json.loads((tmp_path / "own" / "manifest.json").read_text())["timezone"] == "Europe/Copenhagen"
    assert not own.equals(pd.read_parquet(tmp_path / "utc" / "features.parquet"))


def test_chunking_does_not_change_features():
    records, antennas = fd.random_dataset(seed=1)
    params = FeatureParams(min_home_users=5, n_chunks=1)
    one = compute_features(records, antennas, params)
    many = compute_features(records, antennas, FeatureParams(min_home_users=5, n_chunks=7))
    pd.testing.assert_frame_equal(one.features, many.features, rtol=1e-12)
    again = compute_features(records, antennas, params)
    pd.testing.assert_frame_equal(one.features, again.features, rtol=0, atol=0)


def test_intermediate_folder_deleted_or_kept(tmp_path):
    compute_features(fd.records(), fd.antennas(), fd.params(), work_dir=tmp_path / "secure")
    assert list((tmp_path / "secure").iterdir()) == []
    out = compute_features(fd.records(), fd.antennas(), fd.params(), work_dir=tmp_path / "kept",
                           keep_intermediate=True)
    homes = pd.read_parquet(out.work_dir / "level1" / "user_home")
    assert dict(zip(homes["user_id"], homes["home_cell"], strict=True)) == {10: 1, 11: 1, 20: 2, 21: 2, 30: 3}


@pytest.mark.parametrize("mutate, message", [
    (lambda r, a: (r.assign(cell_id=r["cell_id"].replace(3, 7)), a), "row 13, column 'cell_id': cell_id 7"),
    (lambda r, a: (r.assign(cell_id=-1), a), "column 'cell_id': no record has a serving cell"),
    (lambda r, a: (r, pd.concat([a, a.iloc[[0]]])), "row 4, column 'cell_id': duplicate cell_id 1"),
    (lambda r, a: (r.assign(event=r["event"].replace("sms", "fax")), a), "row 2, column 'event'"),
    (lambda r, a: (r, a.assign(lat=[0.0, 0.0, 91.0])), "row 3, column 'lat'"),
])
def test_bad_input_one_line(mutate, message):
    records, antennas = mutate(fd.records(), fd.antennas())
    with pytest.raises(ZenInputError) as err:
        compute_features(records, antennas, fd.params())
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_engine():
    with pytest.raises(ZenInputError, match="unknown engine 'duck'"):
        compute_features(fd.records(), fd.antennas(), fd.params(), engine="duck")


def test_bad_params():
    with pytest.raises(ZenInputError, match="ISO date"):
        FeatureParams(holidays=("2024-13-01",))
    with pytest.raises(ZenInputError, match="min_home_users"):
        FeatureParams(min_home_users=0)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zen.cli.features", *args], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)


def test_cli_writes_antenna_tables_and_rejects_bad_input(tmp_path):
    from zen.io.dataset import write_dataset

    write_dataset(tmp_path / "dataset", fd.records(), pd.Timestamp("2024-01-01", tz="UTC"), 14,
                  antennas=fd.antennas())
    overrides = ["levels.max_events_per_day=5", "levels.min_home_users=2", f"hydra.run.dir={tmp_path}/run"]
    done = _cli(f"dataset={tmp_path / 'dataset'}", f"out_dir={tmp_path / 'out'}", *overrides)
    assert done.returncode == 0, done.stderr
    files = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["features.parquet", "level2/antenna_hour.parquet", "level2/antenna_pairs.parquet",
                     "level2/antenna_week.parquet", "manifest.json"]
    assert pd.read_parquet(tmp_path / "out" / "features.parquet")["cell_id"].tolist() == [1, 2]

    bad = fd.records()
    bad.loc[4, "duration_s"] = -5
    bad.to_csv(tmp_path / "bad.csv", index=False)
    fd.antennas().to_csv(tmp_path / "antennas.csv", index=False)
    failed = _cli(f"records={tmp_path / 'bad.csv'}", f"antennas={tmp_path / 'antennas.csv'}",
                  f"out_dir={tmp_path / 'bad_out'}", *overrides)
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [
        f"zen-features: error: {tmp_path / 'bad.csv'}, row 5, column 'duration_s': negative value -5; "
        "duration_s must be >= 0"]
    assert not (tmp_path / "bad_out").exists()


def test_real_copenhagen_traffic_through_the_levels(copenhagen):
    """Real calls/SMS with constructed cells (home antenna = user id mod 25, every event there):
    level-2 totals and level-3 isolation must equal the same statistics computed on the raw records."""
    records = copenhagen.records.copy()
    records["cell_id"] = records["user_id"] % 25
    antennas = pd.DataFrame({"cell_id": np.arange(25), "lat": 55.60 + np.arange(25) // 5 * 0.01,
                             "lon": 12.50 + np.arange(25) % 5 * 0.01})
    out = compute_features(records, antennas, FeatureParams(min_home_users=1, max_events_per_day=None,
                                                             max_contacts=None))
    assert out.counts["users"] == records["user_id"].nunique() and out.counts["antennas_kept"] == 25
    hour = out.level2["antenna_hour"].groupby("hour")[["og_sms", "ic_calls"]].sum()
    local_hour = records["timestamp"].dt.hour
    for column, event, direction in (("og_sms", "sms", "out"), ("ic_calls", "call", "in")):
        mask = (records["event"] == event) & (records["direction"] == direction)
        expected = local_hour[mask].value_counts().reindex(hour.index, fill_value=0)
        np.testing.assert_array_equal(hour[column].to_numpy(), expected.to_numpy())
    out_calls = records[(records["event"] == "call") & (records["direction"] == "out")]
    on_net = out_calls[out_calls["counterpart_id"].isin(records["user_id"])]
    same = (on_net["user_id"] % 25 == on_net["counterpart_id"] % 25).groupby(on_net["user_id"] % 25).mean()
    got = out.features.set_index("cell_id")["calls_isolation"]
    np.testing.assert_allclose(got.loc[same.index].to_numpy(), same.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("calendar, holidays", [("none", 0), ("denmark_2013", 11)])
def test_config_composes_into_params(calendar, holidays):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from zen.cli import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("features", overrides=[f"features/calendar={calendar}"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    params = FeatureParams.from_config(cfg.levels)
    assert len(params.holiday_days()) == holidays and params.min_home_users == cfg.levels.min_home_users
    assert cfg.engine == "local" and set(cfg.spark) == {"master", "shuffle_partitions", "driver_memory"}
