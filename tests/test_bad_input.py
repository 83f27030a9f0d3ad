"""Every kind of bad input gets one clear line (file, row, column), exit code 2, no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from zen.data import load_generic
from zen.schema import ZenInputError

GOOD = pd.DataFrame({
    "msisdn": [1, 1, 2],
    "time": ["2024-03-01 08:00:00", "2024-03-01 09:30:00", "2024-03-02 10:00:00"],
    "kind": ["Voice", "SMS", "Voice"],
    "dir": ["Outgoing", "Incoming", "Incoming"],
    "secs": [60, 0, 12],
})
MAPPING = {"columns": {"user_id": "msisdn", "timestamp": "time", "event": "kind", "direction": "dir",
                       "duration_s": "secs"},
           "event_values": {"Voice": "call", "SMS": "sms"},
           "direction_values": {"Outgoing": "out", "Incoming": "in"}}


def _write(tmp_path: Path, frame: pd.DataFrame | None, text: str | None = None) -> Path:
    path = tmp_path / "cdrs.csv"
    if text is not None:
        path.write_text(text)
    else:
        frame.to_csv(path, index=False)
    return path


def _with(column: str, row: int, value) -> pd.DataFrame:
    frame = GOOD.copy().astype({column: object})
    frame.loc[row, column] = value
    return frame


CASES = {
    # name: (frame or text, mapping override, expected fragments of the one-line message)
    "missing_file": (None, None, ["file not found"]),
    "empty_file": ("", None, ["empty"]),
    "header_only": ("msisdn,time,kind,dir,secs\n", None, ["no rows"]),
    "missing_column": (GOOD.drop(columns=["secs"]), None, ["secs", "not in the file"]),
    "bad_timestamp": (_with("time", 1, "yesterday noon"), None, ["row 2", "'timestamp'", "unparsable"]),
    "negative_duration": (_with("secs", 2, -5), None, ["row 3", "'duration_s'", "negative"]),
    "unknown_event": (_with("kind", 0, "Fax"), None, ["row 1", "'event'", "unknown value 'Fax'"]),
    "unknown_direction": (_with("dir", 1, "Sideways"), None, ["row 2", "'direction'", "Sideways"]),
    "non_integer_user": (_with("msisdn", 2, "abc"), None, ["row 3", "'user_id'", "integer"]),
    "mapping_names_absent_column": (GOOD, {"user_id": "subscriber"}, ["'subscriber'", "not in the file"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generic_loader_rejects_bad_input(tmp_path, case):
    frame, columns, fragments = CASES[case]
    path = tmp_path / "absent.csv" if frame is None else _write(
        tmp_path, frame if isinstance(frame, pd.DataFrame) else None,
        frame if isinstance(frame, str) else None)
    mapping = {**MAPPING, "columns": {**MAPPING["columns"], **(columns or {})}}
    with pytest.raises(ZenInputError) as info:
        load_generic(path, mapping)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_generic_loader_reads_good_input(tmp_path):
    data = load_generic(_write(tmp_path, GOOD), MAPPING)
    rec = data.records
    assert list(rec["event"].astype(str)) == ["call", "sms", "call"]
    assert list(rec["direction"].astype(str)) == ["out", "in", "in"]
    assert rec["timestamp"].dt.tz is not None and data.days == 2


@pytest.mark.parametrize("case", ["negative_duration", "missing_file"])
def test_cli_prints_one_line_and_writes_nothing(tmp_path, case):
    frame, _, fragments = CASES[case]
    path = tmp_path / "absent.csv" if frame is None else _write(tmp_path, frame)
    overrides = [f"++data.loader.mapping.columns.{k}={v}" for k, v in MAPPING["columns"].items()]
    overrides += [f"++data.loader.mapping.event_values.{k}={v}" for k, v in MAPPING["event_values"].items()]
    overrides += [f"++data.loader.mapping.direction_values.{k}={v}"
                  for k, v in MAPPING["direction_values"].items()]
    out = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "zen.cli.train", "data=generic", f"data.loader.path={path}",
         "data.loader.mapping.timestamp_columns=null", "data.loader.mapping.timestamp_format=null",
         "~data.loader.mapping.zero_pad", "~data.loader.mapping.constants",
         "data.loader.mapping.missed_values=[]", "~data.loader.mapping.read_options",
         f"paths.log_dir={out}"] + overrides,
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("zen-train: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert not out.exists() or not any(out.rglob("*")), list(out.rglob("*"))


def test_train_refuses_a_population_of_one(shared_data, compose, tmp_path):
    from zen.stages.train import train

    cfg = compose("train", ["data=generic", "model=baseline", f"model_dir={tmp_path / 'model'}",
                            f"paths.shared_data={shared_data}"])
    with pytest.raises(ZenInputError, match="at least 10"):
        train(cfg)
    assert not (tmp_path / "model").exists()
