"""Adapters to the peer generators (issue 9): round trips on tiny data, no peer installed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.peers import (
    DGAN_FEATURES,
    activity_edges,
    activity_levels,
    dgan_arrays_to_records,
    par_frame_to_records,
    par_metadata,
    records_to_dgan_arrays,
    records_to_par_frame,
)
from zen.schema import validate

START = pd.Timestamp("2013-02-04", tz="UTC")
DAYS = 14.0
KEEP = ["user_id", "timestamp", "event", "direction", "duration_s", "answered"]


def tiny_records(seed: int = 0, n_users: int = 5) -> pd.DataFrame:
    """A few users' calls, missed calls, SMS and data sessions over 14 days (second resolution)."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 30, n_users)
    user = np.repeat(np.arange(n_users) * 10 + 3, n)
    t = rng.integers(0, int(DAYS * 86400), len(user))
    event = rng.choice(["call", "sms", "data"], len(user))
    direction = np.where(event == "data", "out", rng.choice(["out", "in"], len(user)))
    answered = (event != "call") | (rng.random(len(user)) < 0.8)
    duration = np.where((event == "sms") | ~answered, 0, rng.integers(1, 3000, len(user)))
    df = pd.DataFrame({"user_id": user, "timestamp": START + pd.to_timedelta(t, unit="s"),
                       "event": event, "direction": direction, "duration_s": duration,
                       "answered": answered})
    return validate(df, "records").sort_values(["user_id", "timestamp"], kind="stable") \
        .reset_index(drop=True)


def same_events(a: pd.DataFrame, b: pd.DataFrame, time_tolerance_s: float = 1e-3) -> None:
    """Same events per user (users renumbered in order), times within the tolerance."""
    a, b = a[KEEP].copy(), b[KEEP].copy()
    a, b = (df.assign(user_id=pd.factorize(df["user_id"], sort=True)[0])
            .sort_values(["user_id", "timestamp", "event", "direction"], kind="stable")
            .reset_index(drop=True) for df in (a, b))
    assert len(a) == len(b)
    pd.testing.assert_series_equal(a["user_id"], b["user_id"], check_dtype=False)
    gap = (a["timestamp"] - b["timestamp"]).abs().dt.total_seconds().max()
    assert gap < time_tolerance_s
    for col in ("event", "direction", "answered"):
        assert (a[col].astype(str).to_numpy() == b[col].astype(str).to_numpy()).all(), col
    np.testing.assert_allclose(a["duration_s"], b["duration_s"], rtol=1e-4, atol=1e-3)


def activity_of(records: pd.DataFrame) -> pd.Series:
    users = np.sort(records["user_id"].unique())
    edges = activity_edges(records, DAYS, n_levels=3)
    return pd.Series(activity_levels(records, users, DAYS, edges), index=users)


def test_activity_levels_follow_rates():
    records = tiny_records()
    act = activity_of(records)
    rate = records.groupby("user_id").size().reindex(act.index)
    assert set(act.unique()) <= {0, 1, 2}
    # a more active user never has a lower level
    order = np.argsort(rate.to_numpy(), kind="stable")
    assert (np.diff(act.to_numpy()[order]) >= 0).all()
    assert activity_levels(records, np.array([999]), DAYS, np.array([1.0]))[0] == 0


def test_par_round_trip_keeps_every_event():
    records = tiny_records()
    frame = records_to_par_frame(records, START, DAYS, activity_of(records))
    assert tuple(frame.columns) == tuple(par_metadata()["tables"]["records"]["columns"])
    assert (frame.groupby("user_id")["t_s"].diff().dropna() >= 0).all()
    assert frame.groupby("user_id")["activity"].nunique().max() == 1
    back, repairs = par_frame_to_records(frame, START, DAYS)
    assert repairs == {"events_outside_period": 0, "events_unknown_category": 0}
    validate(back, "records")
    same_events(records, back)


def test_par_decoding_repairs_out_of_schema_rows():
    frame = pd.DataFrame({
        "user_id": [7, 7, 7, 7, 9], "t_s": [10.0, -5.0, DAYS * 86400 + 1, 20.0, 30.0],
        "event": ["sms", "call", "call", "fax", "call"], "direction": ["in"] * 5,
        "duration_s": [12.0, 3.0, 3.0, 1.0, -4.0], "answered": [False, True, True, True, True],
        "activity": [0, 0, 0, 0, 1]})
    back, repairs = par_frame_to_records(frame, START, DAYS)
    assert repairs == {"events_outside_period": 2, "events_unknown_category": 1}
    assert back["user_id"].tolist() == [0, 1]
    assert back["duration_s"].tolist() == [0.0, 0.0]  # SMS have no duration; negatives clip
    assert back["answered"].tolist() == [True, True]  # an SMS is never a missed call


@pytest.mark.parametrize("window_days", [DAYS, 7.0])
def test_dgan_round_trip_keeps_every_event(window_days):
    records = tiny_records()
    act = activity_of(records)
    arrays = records_to_dgan_arrays(records, START, DAYS, act, max_len=32, window_days=window_days)
    n_windows = int(DAYS / window_days)
    assert arrays.features.shape == (len(act) * n_windows, 32, len(DGAN_FEATURES))
    assert arrays.truncated_events == 0
    assert arrays.features[..., 0].sum() == len(records)
    back, repairs = dgan_arrays_to_records(arrays.features, arrays.attributes, START, DAYS,
                                           window_days)
    assert repairs == {"events_past_window": 0, "dropped_windows": 0}
    validate(back, "records")
    # users come back ordered by activity level; compare per level-sorted user
    order = act.sort_values(kind="stable").index.to_numpy()
    new_id = pd.Series(np.arange(len(order)), index=order)
    renumbered = records.assign(user_id=new_id.reindex(records["user_id"]).to_numpy())
    same_events(renumbered, back, time_tolerance_s=2.0)  # float32 log-gaps: ~1e-6 relative


def test_dgan_truncates_long_windows_and_pads_short_ones():
    records = tiny_records(seed=3, n_users=2)
    act = activity_of(records)
    arrays = records_to_dgan_arrays(records, START, DAYS, act, max_len=4, window_days=DAYS)
    counts = records.groupby("user_id").size().to_numpy()
    assert arrays.truncated_events == int(np.maximum(counts - 4, 0).sum())
    present = arrays.features[..., 0]
    assert (present.sum(axis=1) == np.minimum(counts, 4)).all()
    assert (np.diff(present, axis=1) <= 0).all()  # padding only after the events
    back, _ = dgan_arrays_to_records(arrays.features, arrays.attributes, START, DAYS, DAYS)
    first = records.groupby("user_id").head(4)
    assert len(back) == len(first)


def test_dgan_decoding_groups_windows_by_level():
    features = np.zeros((5, 3, len(DGAN_FEATURES)), np.float32)
    features[:, 0, 0] = 1.0  # one event per window ...
    features[:, 0, 3] = np.log1p(3600.0)  # ... an hour after the window start
    features[:, 0, 1] = [0.2, 1.4, 2.6, 0.9, 1.1]  # event codes before rounding
    attributes = np.array([[1.2], [0.1], [0.9], [-0.2], [2.0]], np.float32)
    back, repairs = dgan_arrays_to_records(features, attributes, START, 14.0, 7.0, user_offset=100)
    assert repairs == {"events_past_window": 0, "dropped_windows": 1}
    # levels round to [1, 0, 1, 0, 2]: users are windows (1, 3) -> level 0 and (0, 2) -> level 1
    assert back["user_id"].tolist() == [100, 100, 101, 101]
    hours = ((back["timestamp"] - START).dt.total_seconds() / 3600).tolist()
    assert hours == pytest.approx([1.0, 7 * 24 + 1.0, 1.0, 7 * 24 + 1.0], abs=1e-4)
    assert back["event"].astype(str).tolist() == ["sms", "sms", "call", "data"]


def test_dgan_decoding_drops_events_past_the_window():
    features = np.zeros((1, 2, len(DGAN_FEATURES)), np.float32)
    features[0, :, 0] = 1.0
    features[0, :, 3] = np.log1p([3600.0, 20 * 86400.0])
    back, repairs = dgan_arrays_to_records(features, np.zeros((1, 1), np.float32), START, 14.0, 14.0)
    assert len(back) == 1 and repairs["events_past_window"] == 1


def test_adapters_on_the_copenhagen_training_users(copenhagen):
    from zen.data import split_users

    split = split_users(copenhagen.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    train = copenhagen.subset(split.train).records
    edges = activity_edges(train, copenhagen.days)
    act = pd.Series(activity_levels(train, split.train, copenhagen.days, edges), index=split.train)
    assert np.bincount(act, minlength=5).min() >= 0.15 * len(split.train)  # ties make levels uneven
    frame = records_to_par_frame(train, copenhagen.start, copenhagen.days, act)
    back, _ = par_frame_to_records(frame, copenhagen.start, copenhagen.days)
    assert len(back) == len(train) and back["user_id"].nunique() == len(split.train)
    arrays = records_to_dgan_arrays(train, copenhagen.start, copenhagen.days, act, 256, 7.0)
    kept = int(arrays.features[..., 0].sum())
    assert kept + arrays.truncated_events == len(train)


def test_comparison_tables_render_failures_and_skip_incomparable_scores(monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "run_peers.py"
    spec = importlib.util.spec_from_file_location("run_peers", script)
    run_peers = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "run_peers", run_peers)  # its dataclass looks its module up
    spec.loader.exec_module(run_peers)
    assert run_peers.comparable("global/inter_event_s/ks")
    assert not run_peers.comparable("individual/data_per_day/ks")
    assert not run_peers.comparable("graph/degree/ks")
    assert run_peers.overall({"a/ks": 0.2, "b/tv": 0.4, "graph/degree/ks": 1.0}) == pytest.approx(0.7)
    scores = {k: 0.1 for k in (*run_peers.METRICS, "mean", "overall", "global/inter_event_s/ks")}
    results = {
        "date_utc": "2026-11-24 23:00", "hardware": "test",
        "floor": {"real train users": scores, "real val users": scores},
        "generators": [
            {"name": "ok", "note": "", "fidelity": {"vs holdout": scores, "vs val": scores},
             "fit": {"seconds": 1.0, "peak_rss_mib": 10.0},
             "runs": [{"n_users": 1000, "seconds": 2.0, "convert_s": 0.1, "events": 5000,
                       "s_per_1m_events": 420.0, "peak_rss_mib": 12.0, "repairs": {"x": 0}},
                      {"n_users": 10000, "error": "stopped after the 180 s cap"}]},
            {"name": "broken", "note": "", "fidelity": {}, "runs": [],
             "fit": {"error": "stopped after the 900 s cap"}}]}
    text = run_peers.markdown_tables(results)
    assert "| ok | 1.0 | 10 | 10,000 | stopped after the 180 s cap |" in text
    assert "| broken | stopped after the 900 s cap | - |" in text
    assert "| global/inter_event_s/ks | 0.1000 | 0.1000 | - |" in text
