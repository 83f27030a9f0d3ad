"""The DuckDB engine of the generic loader (zen.data.stream): the same records and split as the
pandas engine, only the needed users read, a bounded seeded sample, one-line errors."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from zen.data import load_generic, split_users, stream
from zen.data.stream import SqlFilter, period_filter
from zen.schema import ZenInputError

MAPPING = {"columns": {"user_id": "msisdn", "counterpart_id": "other_party", "timestamp": "start_time",
                       "event": "type", "duration_s": "duration", "cell_id": "cell_id"},
           "timestamp_format": "%Y-%m-%d %H:%M:%S",
           "event_values": {"VOICE": "call", "SMS": "sms", "DATA": "data"},
           "direction_values": {"MO": "out", "MT": "in", "MISSED": "in"}, "missed_values": ["MISSED"]}
SPLIT = {"val_fraction": 0.15, "holdout_fraction": 0.25, "seed": 7}


def operator_export(n_users: int = 300, rows: int = 6000, seed: int = 0) -> pd.DataFrame:
    """A one-row-per-event operator export: msisdn, other party, start time text, type, direction."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["VOICE", "SMS", "DATA"], rows, p=[0.6, 0.3, 0.1])
    direction = np.where(kind == "DATA", "MO", rng.choice(["MO", "MT", "MISSED"], rows, p=[0.5, 0.4, 0.1]))
    start = pd.Timestamp("2024-03-04") + pd.to_timedelta(rng.integers(0, 14 * 86400, rows), unit="s")
    start = start.to_numpy().copy()
    start[1::97] = start[::97][:len(start[1::97])]  # ties: one user's two events in the same second
    users = 4520000000 + rng.integers(0, n_users, rows)
    users[1::97] = users[::97][:len(users[1::97])]
    return pd.DataFrame({
        "msisdn": users, "other_party": 4520000000 + rng.integers(0, 3 * n_users, rows),
        "start_time": pd.DatetimeIndex(start).strftime("%Y-%m-%d %H:%M:%S"), "type": kind,
        "direction": direction, "duration": np.where(kind == "SMS", 0, rng.integers(0, 900, rows)),
        "cell_id": rng.integers(0, 50, rows), "imei": rng.integers(0, 10**9, rows)})


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("export")
    frame = operator_export()
    frame.to_csv(folder / "ops.csv", index=False)
    frame.to_csv(folder / "ops.csv.gz", index=False)
    frame.to_parquet(folder / "ops.parquet", index=False)
    days = folder / "daily"
    days.mkdir()
    day = frame["start_time"].str[:10]
    for d in sorted(day.unique()):
        frame[day == d].to_csv(days / f"cdr_{d}.csv.gz", index=False)
    return {"folder": folder, "frame": frame, "days": days}


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.records, b.records)
    assert (a.start, a.days) == (b.start, b.days)


@pytest.mark.parametrize("name", ["ops.csv", "ops.csv.gz", "ops.parquet"])
@pytest.mark.parametrize("users, keep", [(None, None), ({"max": 120, "seed": 3}, None),
                                         (None, ["train", "val"]), ({"max": 90, "seed": 1}, ["holdout"])])
def test_both_engines_give_identical_records_and_split(export, name, users, keep):
    path = export["folder"] / name
    a = load_generic(path, MAPPING, engine="pandas", users=users, split=SPLIT, keep=keep)
    b = load_generic(path, MAPPING, engine="duckdb", users=users, split=SPLIT, keep=keep)
    _same(a, b)
    assert a.meta["split"].as_dict() == b.meta["split"].as_dict()
    assert (~a.records["answered"]).sum() > 0  # missed calls mapped in both



@pytest.mark.parametrize("name", ["ops.csv.gz", "ops.parquet"])
def test_both_engines_apply_the_row_rules_alike(export, name):
    """The generic loader's own rules (where, self-calls, period, machine users) give the same
    records and the same drop counts whichever engine read the rows."""
    path = export["folder"] / name
    filters = {"where": "duration < 800", "self_calls": "drop", "period": ["2024-03-05", "2024-03-15"],
               "max_events_per_day": 4}
    a = load_generic(path, MAPPING, engine="pandas", filters=filters, split=SPLIT)
    b = load_generic(path, MAPPING, engine="duckdb", filters=filters, split=SPLIT)
    _same(a, b)
    assert a.meta["load"].dropped == b.meta["load"].dropped
    assert a.meta["load"].dropped["where"] > 0 and a.meta["load"].dropped.get("period", 0) > 0
    a = load_generic(path, MAPPING, engine="pandas", filters=filters, split=SPLIT, keep=["train"])
    b = load_generic(path, MAPPING, engine="duckdb", filters=filters, split=SPLIT, keep=["train"])
    _same(a, b)  # DuckDB applies `where` to the chosen users' rows only (pandas: to every row read)
    assert 0 < b.meta["load"].dropped["where"] < a.meta["load"].dropped["where"]

def test_split_pushdown_reads_only_the_parts_asked_for(export):
    path = export["folder"] / "ops.csv.gz"
    every = load_generic(path, MAPPING, engine="duckdb")
    split = split_users(every.user_ids, **SPLIT)  # what zen-train computes without pushdown
    data = load_generic(path, MAPPING, engine="duckdb", split=SPLIT, keep=["train", "val"])
    assert data.meta["split"].as_dict() == split.as_dict()
    np.testing.assert_array_equal(data.user_ids, np.union1d(split.train, split.val))
    assert not np.isin(split.holdout, data.records["user_id"]).any()
    _same(data, every.subset(data.user_ids))
    np.testing.assert_array_equal(data.meta["observed_ids"], every.user_ids)
    assert data.meta["loading"]["users_loaded"] == len(split.train) + len(split.val)


def test_a_bounded_sample_of_users_has_the_stated_size_and_follows_its_seed(export):
    path = export["folder"] / "ops.parquet"
    one = load_generic(path, MAPPING, engine="duckdb", users={"max": 50, "seed": 1})
    again = load_generic(path, MAPPING, engine="duckdb", users={"max": 50, "seed": 1})
    other = load_generic(path, MAPPING, engine="duckdb", users={"max": 50, "seed": 2})
    assert len(one.user_ids) == 50
    _same(one, again)
    assert not np.array_equal(one.user_ids, other.user_ids)
    loading = one.meta["loading"]
    assert loading["users_in_input"] == export["frame"]["msisdn"].nunique()
    assert (loading["users_sampled"], loading["max_users"], loading["sample_seed"]) == (50, 50, 1)
    assert loading["rows_loaded"] == export["frame"]["msisdn"].isin(one.user_ids).sum()
    assert len(one.records) == loading["rows_loaded"] - one.meta["load"].dropped.get("self_calls", 0)
    assert load_generic(path, MAPPING, engine="duckdb", users={"max": 10**6}).meta["loading"][
        "users_loaded"] == loading["users_in_input"]  # a bound above the population keeps everyone


def test_a_folder_or_glob_of_daily_files_reads_as_one_export(export):
    whole = load_generic(export["folder"] / "ops.csv", MAPPING, engine="pandas", split=SPLIT,
                         keep=["train"])
    folder = load_generic(export["days"], MAPPING, engine="duckdb", split=SPLIT, keep=["train"])
    pattern = load_generic(export["days"] / "cdr_2024-03-*.csv.gz", MAPPING, engine="duckdb", split=SPLIT,
                           keep=["train"])
    by_pandas = load_generic(export["days"] / "cdr_2024-03-*.csv.gz", MAPPING, engine="pandas", split=SPLIT,
                             keep=["train"])
    assert folder.meta["loading"]["files"] == 14 and folder.meta["loading"]["engine"] == "duckdb"
    assert len(by_pandas.meta["load"].files) == 14
    _same(whole, folder)  # rows of one user and second keep their order across days
    _same(folder, pattern)
    _same(pattern, by_pandas)


def test_sql_filters_run_before_the_split_and_count_what_they_drop(export):
    frame = export["frame"]
    path = export["folder"] / "ops.parquet"
    period = period_filter("start_time", "2024-03-06", "2024-03-13", fmt="%Y-%m-%d %H:%M:%S")
    self_calls = SqlFilter("self_calls", "msisdn <> other_party")
    data = load_generic(path, MAPPING, engine="duckdb", split=SPLIT, keep=["train", "val", "holdout"],
                        sql_filters=[period, self_calls])
    inside = (frame["start_time"] >= "2024-03-06") & (frame["start_time"] < "2024-03-13")
    self_call = frame["msisdn"] == frame["other_party"]
    assert data.meta["loading"]["dropped"] == {"period": int((~inside).sum()),
                                               "self_calls": int((inside & self_call).sum())}
    assert data.records["timestamp"].min() >= pd.Timestamp("2024-03-06", tz="UTC")
    assert data.records["timestamp"].max() < pd.Timestamp("2024-03-13", tz="UTC")
    assert data.meta["split"].as_dict() == split_users(frame.loc[inside, "msisdn"], **SPLIT).as_dict()
    with pytest.raises(ZenInputError, match="engine=duckdb"):
        load_generic(path, MAPPING, engine="pandas", sql_filters=[period])


def test_auto_picks_duckdb_for_big_inputs_and_globs(export, monkeypatch):
    path = export["folder"] / "ops.csv.gz"
    days = export["days"] / "*.csv.gz"
    assert stream.resolve_engine("auto", path) == "pandas"
    assert stream.resolve_engine("auto", days) == "pandas"
    monkeypatch.setattr(stream, "AUTO_BYTES", path.stat().st_size)
    assert stream.resolve_engine("auto", path) == "duckdb"
    assert stream.resolve_engine("auto", days) == "duckdb"  # the glob's files together
    assert stream.resolve_engine("auto", export["days"]) == "duckdb"
    with pytest.raises(ZenInputError, match="data.loader.engine='spark' is not one of"):
        stream.resolve_engine("spark", path)


def _one_line(excinfo, *fragments: str) -> None:
    text = str(excinfo.value)
    assert "\n" not in text, text
    for fragment in fragments:
        assert fragment in text, text


def test_bad_inputs_are_one_line_naming_file_column_and_fix(export, tmp_path):
    folder = export["folder"]
    with pytest.raises(ZenInputError) as e:
        load_generic(tmp_path / "nope.csv", MAPPING, engine="duckdb")
    _one_line(e, "nope.csv", "file not found")
    with pytest.raises(ZenInputError) as e:
        load_generic(tmp_path / "day_*.csv", MAPPING, engine="duckdb")
    _one_line(e, "day_*.csv", "no file matches")
    missing = {**MAPPING, "columns": {**MAPPING["columns"], "cell_id": "cgi"}}
    with pytest.raises(ZenInputError) as e:
        load_generic(folder / "ops.parquet", missing, engine="duckdb")
    _one_line(e, "ops.parquet", "column 'cgi'", "not in the file")
    (tmp_path / "semi.csv").write_text(export["frame"].head(50).to_csv(index=False, sep=";"))
    with pytest.raises(ZenInputError) as e:
        load_generic(tmp_path / "semi.csv", MAPPING, engine="duckdb")
    _one_line(e, "semi.csv", "';'-separated", "data.loader.sep=';'")
    data = (folder / "ops.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ZenInputError) as e:
        load_generic(tmp_path / "cut.csv.gz", MAPPING, engine="duckdb")
    _one_line(e, "cut.csv.gz")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    export["frame"].head(30).to_csv(mixed / "day1.csv", index=False)
    export["frame"].head(30).drop(columns="imei").to_csv(mixed / "day2.csv", index=False)
    with pytest.raises(ZenInputError) as e:
        load_generic(mixed, MAPPING, engine="duckdb")
    _one_line(e, "day2.csv", "the same columns", "imei")
    with pytest.raises(ZenInputError) as e:
        load_generic(folder / "ops.csv", {**MAPPING, "read_options": {"skiprows": 2}}, engine="duckdb")
    _one_line(e, "read_options.skiprows", "engine=pandas")
    with pytest.raises(ZenInputError) as e:
        load_generic(folder / "ops.parquet", MAPPING, engine="duckdb", users={"max": 0})
    _one_line(e, "data.loader.users.max=0")
    with pytest.raises(ZenInputError) as e:
        load_generic(folder / "ops.parquet", MAPPING, engine="duckdb",
                     sql_filters=[SqlFilter("self", "msisdn <> b_number")])
    _one_line(e, "ops.parquet", "b_number", "fix the filter")


def test_mismatched_files_are_one_line_however_duckdb_schedules_the_scan(export, tmp_path):
    """DuckDB meets the second file's header either before the first batch (a duckdb.Error) or
    while batches stream (an OSError through the Arrow C stream, about 4 runs in 10): both one line."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    export["frame"].head(30).to_csv(mixed / "day1.csv", index=False)
    export["frame"].head(30).drop(columns="imei").to_csv(mixed / "day2.csv", index=False)
    for _ in range(20):
        with pytest.raises(ZenInputError) as e:
            load_generic(mixed, MAPPING, engine="duckdb")
        _one_line(e, "day2.csv", "the same columns", "imei")


def test_bad_values_are_named_by_column_and_user(export, tmp_path):
    frame = export["frame"].head(400).copy()
    frame.loc[123, "start_time"] = "yesterday"
    frame.to_csv(tmp_path / "bad_time.csv", index=False)
    with pytest.raises(ZenInputError) as e:
        load_generic(tmp_path / "bad_time.csv", MAPPING, engine="duckdb", users={"max": 10**6})
    _one_line(e, "bad_time.csv", "column 'timestamp'", "'yesterday'", f"user {frame.loc[123, 'msisdn']}")
    frame = export["frame"].head(400).astype({"msisdn": str})
    frame.loc[5, "msisdn"] = "+45 anonymous"
    frame.to_csv(tmp_path / "text_id.csv", index=False)
    with pytest.raises(ZenInputError) as e:
        load_generic(tmp_path / "text_id.csv", MAPPING, engine="duckdb", split=SPLIT, keep=["train"])
    _one_line(e, "text_id.csv", "column 'msisdn'", "+45 anonymous", "not a whole number")
    with gzip.open(tmp_path / "blank_id.csv.gz", "wt") as f:
        f.write(export["frame"].head(20).assign(msisdn=lambda d: d["msisdn"].where(d.index != 3))
                .to_csv(index=False))
    with pytest.raises(ZenInputError) as e:
        load_generic(tmp_path / "blank_id.csv.gz", MAPPING, engine="duckdb", users={"max": 5})
    _one_line(e, "blank_id.csv.gz", "column 'msisdn'", "empty user id")


def test_zen_train_reads_a_bounded_sample_without_the_holdout_and_states_it(export, tmp_path):
    import zen

    columns = [f"++data.loader.mapping.columns.{k}={v}" for k, v in MAPPING["columns"].items()]
    values = [f"++data.loader.mapping.{key}.{k}={v}" for key in ("event_values", "direction_values")
              for k, v in MAPPING[key].items()]
    columns.append("++data.loader.mapping.columns.direction=direction")
    overrides = ["data=generic", "model=baseline", "device=cpu", f"data.loader.path={export['days']}",
                 "data.loader.engine=duckdb", "data.loader.users.max=200", "data.loader.users.seed=4",
                 "data.loader.mapping.timestamp_columns=null", "data.loader.mapping.timestamp_format=null",
                 "~data.loader.mapping.zero_pad",
                 "~data.loader.mapping.constants", "~data.loader.mapping.read_options",
                 "data.loader.mapping.missed_values=[MISSED]", "~data.loader.mapping.event_values",
                 "~data.loader.mapping.direction_values", "data.split.val_fraction=0.15",
                 "data.split.holdout_fraction=0.25", *columns, *values]
    model = zen.train(overrides, out_dir=tmp_path / "run")
    info = json.loads((model.path / "model.json").read_text())
    loading = info["loading"]
    assert (loading["engine"], loading["users_sampled"], loading["max_users"]) == ("duckdb", 200, 200)
    assert loading["parts_loaded"] == ["train", "val"] and loading["users_in_input"] == 300
    sizes = info["split"]["sizes"]
    assert loading["users_loaded"] == sizes["train"] + sizes["val"]
    assert sizes["holdout"] == 50  # 25 % of the sample, counted but never read
    from omegaconf import OmegaConf

    from zen.stages.common import load_real

    data, split = load_real(OmegaConf.create(info["config"]).data)  # as zen-evaluate reads the model's data
    assert split.digest() == info["split"]["sha256"]  # the same sample and split, checked by digest
    assert {k: len(v) for k, v in split.as_dict().items()} == sizes
    np.testing.assert_array_equal(data.user_ids, np.sort(np.concatenate(list(split.as_dict().values()))))
