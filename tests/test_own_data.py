"""Issue 18: one's own CDRs as they come, on small exports the tests write (tests/own_data.py).

Each problem of the issue has its test: self-calls and the other filters, zero-length missed
calls, the file keys (.tsv, format=), double logging, local time across a DST week, a copied
config under a new name, the split defaults, calls-only data giving no SMS; and the three
examples of docs/own-data.md run as documented (the operator one in the default run, ~25 s; the
other two marked slow).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from own_data import (
    FIRST_ID,
    MACHINE_ID,
    OFFNET_ID,
    simulate,
    write_operator_export,
    write_sessions,
    write_study_log,
)

from zen.data import load_dataset, load_generic, split_users
from zen.data.local_time import local_clock, utc_from_local_clock
from zen.schema import ZenInputError

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "own-data.md"
TZ = "Europe/Copenhagen"  # DST from 2024-03-31 02:00 local
TINY = ["model=lstm_small", "trainer.max_epochs=1", "trainer.max_steps=3", "device=cpu"]


def doc_configs() -> dict[str, str]:
    """The data configs of docs/own-data.md: ``# conf/data/<name>.yaml`` blocks."""
    blocks = re.findall(r"```yaml\n# conf/data/(\w+)\.yaml\n(.*?)```", DOC.read_text(), re.S)
    return dict(blocks)


def loader_of(name: str) -> dict:
    """The ``loader`` of a documented config, as the CLI passes it (no Hydra defaults needed)."""
    cfg = OmegaConf.create(doc_configs()[name])
    return OmegaConf.to_container(cfg.loader, resolve=True)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    """The three documented exports under ``<root>/exports`` and their configs under ``<root>/conf``."""
    root = tmp_path_factory.mktemp("own")
    write_operator_export(simulate(seed=0), root / "exports" / "operator")
    write_study_log(simulate(sms=False, seed=5), root / "exports" / "study_log.tsv")
    write_sessions(48, 21, root / "exports" / "sessions")
    for name, text in doc_configs().items():
        (root / "conf" / "data").mkdir(parents=True, exist_ok=True)
        (root / "conf" / "data" / f"{name}.yaml").write_text(text)
    return root


def train_doc(exports: Path, name: str, out: Path, model: list[str], path: Path | None = None):
    """``zen-train data=<name>`` of docs/own-data.md, in process (``path``: another export)."""
    from omegaconf import open_dict

    import zen
    from zen.stages.train import train

    cfg = zen.compose("train", [*model, f"model_dir={out / 'model'}", "mobility.calibrate=false"])
    data = OmegaConf.create(doc_configs()[name])
    data.loader.path = str(path or exports / data.loader.path)
    with open_dict(cfg):
        cfg.data = data
    train(cfg)
    return zen.load_model(out / "model")


def load_doc(exports: Path, name: str, **change) -> object:
    loader = loader_of(name)
    for key, value in change.items():
        loader[key] = value
    for block in ("cells",):
        if block in loader:
            loader[block]["path"] = str(exports / loader[block]["path"])
    loader["path"] = str(exports / loader["path"])
    return load_dataset(name, **loader)


# ---------------------------------------------------------------- filters


def test_self_calls_machines_and_period_are_dropped_and_counted(exports):
    kept = load_doc(exports, "operator", filters={"self_calls": "keep"})
    rec = kept.records
    assert (rec["counterpart_id"] == rec["user_id"]).sum() > 100  # the problem: voicemail rows stay
    assert MACHINE_ID in kept.user_ids
    data = load_doc(exports, "operator")
    report = data.meta["load"]
    assert report.rows_read == len(rec) and len(report.files) == 21  # one gzipped CSV per day
    assert report.dropped["self_calls"] == int((rec["counterpart_id"] == rec["user_id"]).sum())
    machine_rows = int((rec["user_id"] == MACHINE_ID).sum())
    assert report.dropped["machines"] == machine_rows and report.machine_users == [MACHINE_ID]
    assert len(data.records) == len(rec) - report.dropped["self_calls"] - machine_rows
    assert not (data.records["counterpart_id"] == data.records["user_id"]).any()
    week = load_doc(exports, "operator",
                    filters={"period": ["2024-03-25", "2024-03-31"], "where": "service == 'VOICE'"})
    local = week.records["timestamp"].dt.tz_convert(TZ)
    assert local.min() >= pd.Timestamp("2024-03-25", tz=TZ)
    assert local.max() < pd.Timestamp("2024-04-01", tz=TZ)
    assert week.days == 7  # local days (the DST week is an hour short in UTC)
    assert set(week.records["event"].astype(str)) == {"call"}
    assert week.meta["load"].dropped["where"] > 0 and week.meta["load"].dropped["period"] > 0


@pytest.mark.parametrize(("filters", "key"), [
    ({"where": "service ==== 'VOICE'"}, "data.loader.filters.where"),
    ({"where": "no_such_column > 3"}, "data.loader.filters.where"),
    ({"period": ["2024-03-25", "soon"]}, "data.loader.filters.period"),
    ({"max_events_per_day": "many"}, "data.loader.filters.max_events_per_day"),
    ({"self_call": "drop"}, "data.loader.filters.self_call"),
])
def test_a_filter_that_does_not_parse_is_one_line_naming_the_key(exports, filters, key):
    with pytest.raises(ZenInputError) as info:
        load_doc(exports, "operator", filters=filters)
    assert key in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- missed calls


def test_zero_duration_means_missed_when_told(exports):
    log = exports / "exports" / "study_log.tsv"
    raw = pd.read_csv(log, sep="\t")
    zero = int(((raw["duration"] == 0) & (raw["subject"] != raw["contact"])).sum())
    assert zero > 100
    mapping = {**loader_of("study")["mapping"], "missed_if_zero_duration": False}
    before = load_doc(exports, "study", mapping=mapping, two_sided=None)
    assert before.records["answered"].all()  # the problem: every 0 s call counted as answered
    after = load_doc(exports, "study", two_sided=None)
    assert int((~after.records["answered"]).sum()) == zero
    assert (after.records.loc[~after.records["answered"], "duration_s"] == 0).all()


def test_missed_from_a_status_column(exports):
    data = load_doc(exports, "operator")
    calls = data.records[data.records["event"] == "call"]
    share = float((~calls["answered"]).mean())
    assert 0.1 < share < 0.2  # the simulation misses 15 % of calls; the status column says which
    assert (data.records.loc[data.records["event"] == "sms", "answered"]).all()


# ---------------------------------------------------------------- file keys


def test_tsv_and_the_format_keys(tmp_path):
    calls = simulate(n_users=12, days=3, seed=3)
    path = write_study_log(calls, tmp_path / "log.tsv")
    mapping = {"columns": {"user_id": "subject", "counterpart_id": "contact", "timestamp": "epoch_s",
                           "duration_s": "duration"}, "epoch_unit": "s", "constants": {"event": "call"},
               "direction_values": {"outgoing": "out", "incoming": "in"}}
    n = len(pd.read_csv(path, sep="\t"))
    assert load_generic(path, mapping).meta["load"].rows_read == n  # .tsv: tab-separated
    odd = tmp_path / "calls.log"
    shutil.copy(path, odd)
    with pytest.raises(ZenInputError, match=r"set data.loader.format=csv \(and data.loader.sep\)"):
        load_dataset("mine", kind="generic", path=str(odd), mapping=mapping)
    data = load_dataset("mine", kind="generic", path=str(odd), mapping=mapping, format="csv", sep="\\t")
    assert data.meta["load"].rows_read == n and data.name == "mine"
    gz = tmp_path / "gz" / "log-0.txt.gz"
    gz.parent.mkdir()
    pd.read_csv(path, sep="\t").to_csv(gz, sep=";", index=False, header=False, compression="gzip")
    cols = ["subject", "contact", "epoch_s", "direction", "duration"]
    data = load_dataset("mine", kind="generic", path=str(tmp_path / "gz" / "*.txt.gz"), mapping=mapping,
                        sep=";", header=False, names=cols, compression="gzip")
    assert data.meta["load"].rows_read == n
    with pytest.raises(ZenInputError, match="data.loader.header=false needs data.loader.names"):
        load_dataset("mine", kind="generic", path=str(gz), mapping=mapping, sep=";", header=False)
    with pytest.raises(ZenInputError, match="data.loader.separator: unknown key for the generic loader"):
        load_dataset("mine", kind="generic", path=str(path), mapping=mapping, separator="\t")


def test_many_files_are_read_in_sorted_order(exports, tmp_path):
    folder = exports / "exports" / "operator"
    whole = load_doc(exports, "operator")
    files = sorted(folder.glob("*.csv.gz"))
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for i, f in enumerate(reversed(files)):  # written newest first: the order must not depend on it
        shutil.copy(f, shuffled / f.name)
        assert i >= 0
    again = load_doc(exports, "operator", path=str(shuffled))
    pd.testing.assert_frame_equal(whole.records, again.records)
    assert again.meta["load"].files == [str(shuffled / f.name) for f in files]


# ---------------------------------------------------------------- double logging


def test_double_logging_is_matched_within_the_tolerance(exports):
    log = pd.read_csv(exports / "exports" / "study_log.tsv", sep="\t")
    log = log[log["subject"] != log["contact"]]
    twice = load_doc(exports, "study", two_sided={"complete": "users"})  # completion, no tolerance
    key = ["user_id", "counterpart_id", "direction"]
    once = load_doc(exports, "study")
    report = once.meta["load"]
    assert report.double_logged > 500
    # without the tolerance a call in both logs is completed again: duplicates
    assert len(twice.records) == len(once.records) + report.double_logged * 2
    # with it: every subject-to-subject call is in the caller's log once and the callee's once
    both = once.records[once.records["counterpart_id"] < OFFNET_ID]
    outs = both[both["direction"] == "out"].groupby(key[:2]).size()
    ins = both[both["direction"] == "in"].groupby(key[:2]).size()
    ins.index = ins.index.swaplevel()
    pd.testing.assert_series_equal(outs.sort_index(), ins.reindex(outs.index).sort_index(), check_names=False)
    assert report.added["two_sided"] > 0  # the week some phones lost is completed from the others
    assert len(once.records) == len(log) + report.added["two_sided"]


def test_copenhagen_and_generic_complete_with_one_implementation():
    from zen.data import copenhagen, rules

    assert copenhagen.mirror is rules.mirror


# ---------------------------------------------------------------- local time


def test_local_time_across_a_dst_week(tmp_path):
    calls = simulate(n_users=20, days=14, start="2024-03-25", office_hours=True, seed=7)
    folder = write_operator_export(calls, tmp_path / "op", voicemail_share=0.0, machine_per_day=0)
    loader = loader_of("operator")
    data = load_dataset("op", **{**loader, "path": str(folder)})
    assert str(data.records["timestamp"].dt.tz) == "UTC"  # stored in UTC
    utc_hours = data.records["timestamp"].dt.hour
    assert utc_hours.min() == 7 and utc_hours.max() == 15  # 08-16 UTC before the switch, 07-15 after
    local = local_clock(data)
    assert local.meta["clock"] == "local" and local.start == pd.Timestamp("2024-03-25", tz="UTC")
    hours = local.records["timestamp"].dt.hour
    assert hours.min() == 9 and hours.max() == 16  # office hours on the wall clock, both weeks
    # the wall clock back to UTC is DST-safe: no event lost, a missing-hour time moved forward
    wall = pd.Series(pd.to_datetime(["2024-03-31 01:30", "2024-03-31 02:30", "2024-10-27 02:30",
                                     "2024-06-01 12:00"]).tz_localize("UTC"))
    utc = utc_from_local_clock(wall, TZ)
    assert list(utc.dt.strftime("%H:%M")) == ["00:30", "01:00", "00:30", "10:00"]
    back = utc_from_local_clock(local.records["timestamp"], TZ)
    assert (np.sort(back.to_numpy()) == np.sort(data.records["timestamp"].to_numpy())).all()


def test_an_unknown_time_zone_is_one_line(exports):
    with pytest.raises(ZenInputError, match="unknown time zone 'Europe/Kopenhagen'; set data.loader.tim"):
        load_doc(exports, "operator", timezone="Europe/Kopenhagen")


def test_offsets_that_change_with_dst_are_read(exports):
    data = load_doc(exports, "sessions")
    raw = pd.read_parquet(exports / "exports" / "sessions" / "sessions.parquet")
    assert raw["start"].str.endswith("+01:00").any() and raw["start"].str.endswith("+02:00").any()
    local = local_clock(data).records["timestamp"].dt.hour
    assert local.min() >= 6  # the simulated sessions are 06-24 local
    assert data.meta["load"].cells == {"antennas": 60, "records_with_cell": len(raw), "unknown": 0}


# ---------------------------------------------------------------- configs


def test_a_copied_config_works_under_a_new_name(exports, tmp_path):
    conf = tmp_path / "conf" / "data"
    conf.mkdir(parents=True)
    cfg = OmegaConf.load(REPO / "zen" / "configs" / "data" / "generic.yaml")  # copied, then edited
    cfg.name = "mydata"
    study = OmegaConf.create(doc_configs()["study"])
    cfg.loader.mapping = study.loader.mapping
    cfg.loader.merge_with({"path": str(exports / study.loader.path), "timezone": study.loader.timezone,
                           "two_sided": study.loader.two_sided})
    OmegaConf.save(cfg, conf / "mydata.yaml")
    overrides: list[str] = []
    proc = subprocess.run([sys.executable, "-m", "zen.cli.data", "check", f"--config-dir={tmp_path / 'conf'}",
                           "data=mydata", *overrides], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "zen-data check: mydata" in proc.stdout and "users            48" in proc.stdout
    assert "Europe/Copenhagen" in proc.stdout and "events call" in proc.stdout
    assert not list(tmp_path.glob("*.log")) and not (tmp_path / "outputs").exists()  # a check writes nothing


def test_the_generic_split_defaults_leave_holdout_users(compose):
    cfg = compose("train", ["data=generic"])
    split = split_users(np.arange(FIRST_ID, FIRST_ID + 48), **OmegaConf.to_container(cfg.data.split))
    assert len(split.holdout) == 12 and len(split.val) == 7 and len(split.train) == 29


# ---------------------------------------------------------------- bad mappings


def test_bad_mappings_are_one_line_naming_the_key(exports, tmp_path):
    columns = {**loader_of("operator")["mapping"]["columns"], "user_id": "msisdn_a"}
    with pytest.raises(ZenInputError) as info:
        load_doc(exports, "operator", mapping={**loader_of("operator")["mapping"], "columns": columns})
    assert "data.loader.mapping.columns.user_id names a column that is not in the file" in str(info.value)
    proc = subprocess.run([sys.executable, "-m", "zen.cli.data", "check", f"--config-dir={exports / 'conf'}",
                           "data=operator", "data.loader.mapping.columns.user_id=msisdn_a",
                           "+data.loader.fmt=csv"], capture_output=True, text=True, cwd=exports, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("zen-data: error: data.loader.fmt: unknown key for the generic loader")
    with pytest.raises(ZenInputError, match="data.loader.mapping.missed_colum: unknown key"):
        load_doc(exports, "operator", mapping={**loader_of("operator")["mapping"], "missed_colum": "status"})
    cells = tmp_path / "cells.csv"
    pd.read_csv(exports / "exports" / "sessions" / "cells.csv").rename(columns={"cell": "id"}).to_csv(cells,
                                                                                                     index=False)
    loader = loader_of("sessions")
    loader["cells"]["path"] = str(cells)
    with pytest.raises(ZenInputError) as info:
        load_dataset("s", **{**loader, "path": str(exports / loader["path"])})
    assert "\n" not in str(info.value) and "'cell'" in str(info.value)
    unknown = tmp_path / "few_cells.csv"
    pd.read_csv(exports / "exports" / "sessions" / "cells.csv").iloc[:30].to_csv(unknown, index=False)
    loader["cells"]["path"] = str(unknown)
    with pytest.raises(ZenInputError, match="is not in the antennas file.*data.loader.cells.missing=unknown"):
        load_dataset("s", **{**loader, "path": str(exports / loader["path"])})


# ---------------------------------------------------------------- zen-data check


def test_check_refuses_what_cannot_train(exports, tmp_path):
    from zen.data.check import problems, summarize

    data = load_doc(exports, "study")
    few = data.subset(data.user_ids[:8])
    summary = summarize(few, split_users(few.user_ids))
    found = problems(summary, 10, ["call", "sms"])
    assert any("only 5 training user(s)" in f for f in found), found
    assert any("no sms events although expect_events" in f for f in found), found
    proc = subprocess.run([sys.executable, "-m", "zen.cli.data", "check", f"--config-dir={exports / 'conf'}",
                           "data=study", "expect_events=[call,sms]"], capture_output=True, text=True,
                          cwd=exports, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "events call" in proc.stdout and "double-logged" in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("zen-data: error:") and "no sms events" in lines[0]


# ---------------------------------------------------------------- calls only, end to end


@pytest.mark.parametrize("model", ["lstm_small", "baseline"])
def test_a_calls_only_file_gives_no_sms(exports, tmp_path, model):
    import zen

    tiny = TINY if model == "lstm_small" else ["model=baseline", "device=cpu"]
    trained = train_doc(exports, "study", tmp_path, tiny)
    assert trained.info["events"] == ["call"] and trained.info["timezone"] == TZ
    data = zen.generate(trained, n_users=60, days=7, network="synthetic_city", device="cpu", sessions=None,
                        start_date="2024-03-25")
    events = set(data.records["event"].astype(str))
    assert events == {"call"}, events


def test_generated_events_keep_the_local_clock_across_dst(tmp_path):
    """Office hours (09-17 local) learned in Copenhagen stay 09-17 local in a generated fortnight
    whose second week is summer time: in UTC they move an hour earlier."""
    import zen

    calls = simulate(n_users=40, days=14, start="2024-03-18", office_hours=True, seed=11)
    folder = write_operator_export(calls, tmp_path / "op", voicemail_share=0.0, machine_per_day=0)
    trained = train_doc(tmp_path, "operator", tmp_path / "run", ["model=baseline", "device=cpu"], folder)
    assert trained.info["timezone"] == TZ and trained.info["start"].startswith("2024-03-18 00:00")
    data = zen.generate(trained, n_users=200, days=14, network="synthetic_city", device="cpu", sessions=None,
                        start_date="2024-03-25", out_dir=tmp_path / "dataset")
    assert data.manifest["timezone"] == TZ and data.start == pd.Timestamp("2024-03-24 23:00", tz="UTC")
    ts = data.records["timestamp"]
    local = ts.dt.tz_convert(TZ)
    weekday = local.dt.day_of_week < 5
    week = np.where(local < pd.Timestamp("2024-04-01", tz=TZ), 1, 2)
    for w in (1, 2):
        hours = local[weekday & (week == w)].dt.hour
        assert ((hours >= 9) & (hours < 17)).mean() > 0.8, (w, hours.value_counts().sort_index())
    mean_local = [local[weekday & (week == w)].dt.hour.mean() for w in (1, 2)]
    mean_utc = [ts[weekday & (week == w)].dt.hour.mean() for w in (1, 2)]
    assert abs(mean_local[0] - mean_local[1]) < 0.3, mean_local
    assert 0.7 < mean_utc[0] - mean_utc[1] < 1.3, mean_utc


# ---------------------------------------------------------------- the documented examples


def doc_commands(name: str) -> list[list[str]]:
    """The four commands docs/own-data.md gives for ``data=<name>``, split into words."""
    found = [ln.split() for ln in DOC.read_text().splitlines() if ln.startswith("zen-")]
    found = [c for c in found if f"data={name}" in c or c[0] in ("zen-generate", "zen-evaluate")]
    check, train = (c for c in found if f"data={name}" in c)
    generate = next(c for c in found if c[0] == "zen-generate" and "start_date=2024-03-18" in c)
    evaluate = next(c for c in found if c[0] == "zen-evaluate" and "outputs/train/<run>/dataset" in c[1])
    return [check, train, generate, evaluate]


@pytest.mark.parametrize("name", ["operator", pytest.param("study", marks=pytest.mark.slow),
                                  pytest.param("sessions", marks=pytest.mark.slow)])
def test_the_documented_example_runs(exports, name):
    """check -> train -> generate -> evaluate as docs/own-data.md writes them (tiny settings, a
    synthetic city and no session models, so that only the files the test wrote are read)."""
    run = f"outputs/train/{name}"
    extra = {"zen-data": [], "zen-train": [*TINY, f"hydra.run.dir={run}", "mobility.calibrate=false"],
             "zen-generate": ["n_users=60", "network=synthetic_city", "sessions=null", "progress=false",
                              "device=cpu"],
             "zen-evaluate": ["tasks.privacy=false"]}
    for words in doc_commands(name):
        words = [w.replace("outputs/train/<run>", run) for w in words]
        words = [w for w in words if not w.startswith("n_users=")] if words[0] == "zen-generate" else words
        module = {"zen-data": "data", "zen-train": "train", "zen-generate": "generate",
                  "zen-evaluate": "evaluate"}[words[0]]
        proc = subprocess.run([sys.executable, "-m", f"zen.cli.{module}", *words[1:], *extra[words[0]]],
                              capture_output=True, text=True, cwd=exports, timeout=600)
        assert proc.returncode == 0, (words, proc.stdout[-2000:], proc.stderr[-3000:])
    manifest = (exports / run / "dataset" / "manifest.json").read_text()
    assert '"timezone": "Europe/Copenhagen"' in manifest
    assert (exports / run / "report").is_dir()
