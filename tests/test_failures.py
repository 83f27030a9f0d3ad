"""Every expected failure is one line on stderr, exit code 2, and leaves no run folder behind.

The loader's wording is checked in-process (fast); the CLI cases drive ``python -m zen.cli.<stage>``
as a user would. Disk full and refused writes are simulated in-process through ``run_stage``.
"""

from __future__ import annotations

import errno
import gzip
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from test_bad_input import GOOD, MAPPING

from zen.cli._errors import explain, run_stage
from zen.data import load_generic
from zen.schema import ZenInputError

HEADER = "msisdn,time,kind,dir,secs\n"
ROWS = ["1,2024-03-01 08:00:00,Voice,Outgoing,60\n", "1,2024-03-01 09:30:00,SMS,Incoming,0\n",
        "2,2024-03-02 10:00:00,Voice,Incoming,12\n"]
GOOD_CSV = HEADER + "".join(ROWS)


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(rows)).encode()


def _truncated_gzip() -> bytes:
    whole = gzip.compress((HEADER + "".join(ROWS) * 500).encode())
    return whole[: len(whole) // 2]


LOADER_CASES = {
    # name: (file name, bytes, fragments of the one-line message)
    "user_id_beyond_int64": ("cdrs.csv", _csv(ROWS[0], "9" * 23 + ",2024-03-01 09:30:00,SMS,Incoming,0\n"),
                             ["row 2", "column 'user_id'", "does not fit in a 64-bit integer"]),
    "truncated_gzip": ("cdrs.csv.gz", _truncated_gzip(), ["the file is truncated or not valid gzip"]),
    "not_gzip": ("cdrs.csv.gz", GOOD_CSV.encode(), ["the file is truncated or not valid gzip"]),
    "gzip_named_csv": ("cdrs.csv", gzip.compress(GOOD_CSV.encode()), ["gzip-compressed", ".csv.gz"]),
    "latin1": ("cdrs.csv", (HEADER + ROWS[0] + ROWS[1] + "3,2024-03-02 10:00:00,Voice,Incoming,12\n"
                            "4,2024-03-02 11:00:00,Voice,Incoming,1 \xe9\n").encode("latin-1"),
               ["row 4", "line 5 is not valid utf-8", "0xe9", "data.loader.encoding="]),
    "latin1_header": ("cdrs.csv", ("msisdn,t\xefme,kind,dir,secs\n" + ROWS[0]).encode("latin-1"),
                      ["the header is not valid utf-8", "data.loader.encoding="]),
    "short_row": ("cdrs.csv", _csv(ROWS[0], "1,2024-03-01 09:30:00,SMS\n", ROWS[2]),
                  ["row 2", "3 fields where the header has 5"]),
    "long_row": ("cdrs.csv", _csv(ROWS[0], "1,2024-03-01 09:30:00,SMS,Incoming,0,7,8\n"),
                 ["row 2", "7 fields where the header has 5"]),
    "every_row_long": ("cdrs.csv", _csv("9," + ROWS[0], "9," + ROWS[1]),
                       ["row 1", "6 fields where the header has 5"]),
    "semicolons": ("cdrs.csv", GOOD_CSV.replace(",", ";").encode(),
                   ["looks ';'-separated", "set data.loader.sep=';'"]),
    "tabs": ("cdrs.csv", GOOD_CSV.replace(",", "\t").encode(),
             ["looks tab-separated", r"set data.loader.sep='\t'"]),
    "empty_user": ("cdrs.csv", _csv(ROWS[0], ",2024-03-02 10:00:00,Voice,Incoming,12\n"),
                   ["row 2", "column 'user_id'", "empty value"]),
    "empty_duration": ("cdrs.csv", _csv(ROWS[0], "2,2024-03-02 10:00:00,Voice,Incoming,\n"),
                       ["row 2", "column 'duration_s'", "empty value"]),
    "nan_duration": ("cdrs.csv", _csv(ROWS[0], "2,2024-03-02 10:00:00,Voice,Incoming,nan\n"),
                     ["row 2", "column 'duration_s'", "empty value"]),
    "empty_direction": ("cdrs.csv", _csv(ROWS[0], "2,2024-03-02 10:00:00,Voice,,12\n"),
                        ["row 2", "column 'direction'", "empty value"]),
    "empty_timestamp": ("cdrs.csv", _csv(ROWS[0], "2,,Voice,Incoming,12\n"),
                        ["row 2", "column 'timestamp'", "empty value"]),
    "fractional_user": ("cdrs.csv", _csv(ROWS[0], "1.5,2024-03-02 10:00:00,Voice,Incoming,12\n"),
                        ["row 2", "got 1.5;"]),
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(LOADER_CASES))
def test_loader_failure_is_one_clear_line(tmp_path, case):
    name, data, fragments = LOADER_CASES[case]
    path = _write(tmp_path, name, data)
    with pytest.raises(ZenInputError) as info:
        load_generic(path, MAPPING)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert "np.float64" not in message and "<NA>" not in message and "nan" not in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(("sep", "typed"), [(";", ";"), ("\t", r"\t")])
def test_the_separator_hint_is_right(tmp_path, sep, typed):
    """The hint names the file's separator, and the value it prints (as Hydra passes it) loads it."""
    path = _write(tmp_path, "cdrs.csv", GOOD_CSV.replace(",", sep).encode())
    with pytest.raises(ZenInputError, match=f"data.loader.sep='{re.escape(typed)}'"):
        load_generic(path, MAPPING)
    data = load_generic(path, MAPPING, sep=typed)
    assert len(data.records) == len(GOOD)


def test_the_encoding_hint_is_right(tmp_path):
    text = GOOD_CSV.replace("Voice,Incoming", "Vöice,Incoming")
    path = _write(tmp_path, "cdrs.csv", text.encode("latin-1"))
    with pytest.raises(ZenInputError, match="row 3: line 4 is not valid utf-8.*encoding=latin-1"):
        load_generic(path, MAPPING)
    mapping = {**MAPPING, "event_values": {**MAPPING["event_values"], "Vöice": "call"},
               "read_options": {"encoding": "latin-1"}}
    assert len(load_generic(path, mapping).records) == len(GOOD)


@pytest.mark.parametrize(("unit", "stamp", "fragment"), [
    ("s", "1e30", "timestamp 1e+30 s is out of range"), ("us", "9223372036854776", "out of range"),
    ("fortnights", "1", "epoch_unit 'fortnights' is not one of"),
])
def test_epoch_timestamps_out_of_range(tmp_path, unit, stamp, fragment):
    path = _write(tmp_path, "cdrs.csv", f"u,t,e,d\n1,1000,call,out\n2,{stamp},call,out\n".encode())
    columns = {"user_id": "u", "timestamp": "t", "event": "e", "direction": "d"}
    mapping = {"columns": columns, "epoch_unit": unit}
    with pytest.raises(ZenInputError, match=re.escape(fragment)):
        load_generic(path, mapping)


def _train_cli(tmp_path: Path, data_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """``python -m zen.cli.train data=generic`` with MAPPING on ``data_path`` (as in test_bad_input)."""
    overrides = [f"++data.loader.mapping.columns.{k}={v}" for k, v in MAPPING["columns"].items()]
    overrides += [f"++data.loader.mapping.event_values.{k}={v}" for k, v in MAPPING["event_values"].items()]
    overrides += [f"++data.loader.mapping.direction_values.{k}={v}"
                  for k, v in MAPPING["direction_values"].items()]
    return _cli(tmp_path, "train", "data=generic", f"data.loader.path={data_path}",
                "data.loader.mapping.timestamp_columns=null", "data.loader.mapping.timestamp_format=null",
                "~data.loader.mapping.zero_pad", "~data.loader.mapping.constants",
                "data.loader.mapping.missed_values=[]", "~data.loader.mapping.read_options",
                *overrides, *extra)


def _cli(tmp_path: Path, stage: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"zen.cli.{stage}", f"hydra.run.dir={tmp_path / 'run'}",
                           *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)


def _assert_one_line(proc: subprocess.CompletedProcess, stage: str, tmp_path: Path, *fragments: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(f"zen-{stage}: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not (tmp_path / "run").exists(), list((tmp_path / "run").rglob("*"))


@pytest.mark.parametrize("case", ["user_id_beyond_int64", "truncated_gzip"])
def test_cli_loader_failure_is_one_line(tmp_path, case):
    name, data, fragments = LOADER_CASES[case]
    proc = _train_cli(tmp_path, _write(tmp_path, name, data))
    _assert_one_line(proc, "train", tmp_path, *fragments)


def test_cli_separator_hint_as_typed(tmp_path):
    """The sep='\\t' the tab hint prints gets past the loader when typed on the command line."""
    proc = _train_cli(tmp_path, _write(tmp_path, "cdrs.csv", GOOD_CSV.replace(",", "\t").encode()),
                      r"data.loader.sep='\t'")
    _assert_one_line(proc, "train", tmp_path, "at least 10")


def test_cli_generate_without_model_dir(tmp_path):
    proc = _cli(tmp_path, "generate")
    _assert_one_line(proc, "generate", tmp_path, "model_dir is required: zen-generate model_dir=")



@pytest.mark.parametrize("stage,override,fragments", [
    ("generate", "n_userz=5", ("unknown key 'n_userz'", "+n_userz=")),
    ("train", "trainer.epochz=1", ("unknown key 'trainer.epochz'",)),
    ("evaluate", "seed=[", ("the override 'seed=[' does not parse",)),
    ("train", "data=mine", ("no config 'mine' in the group 'data'", "copenhagen", "--config-dir")),
])
def test_a_command_line_hydra_refuses_is_one_line(tmp_path, stage, override, fragments):
    """Hydra alone prints several lines and exits 1 for these; Zen's entry points make them one line."""
    _assert_one_line(_cli(tmp_path, stage, override), stage, tmp_path, *fragments)

def _raises(err: BaseException):
    def train(cfg) -> None:  # named like a stage: run_stage prints zen-train
        raise err
    return train


@pytest.mark.parametrize(("err", "fragments"), [
    (OSError(errno.ENOSPC, "No space left on device", "/out/records/part-0.parquet"),
     ["no space left on device while writing /out/records/part-0.parquet", "free space and rerun"]),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), ["disk quota exceeded;", "free space"]),
    (PermissionError(errno.EACCES, "Permission denied", "/out/model"),
     ["permission denied on /out/model", "zen-train model_dir=<folder>"]),
    (OSError(errno.ENOSPC, "No space left on device"), ["resume=true"]),
])
def test_os_failures_are_one_line(capsys, err, fragments):
    with pytest.raises(SystemExit) as info:
        run_stage(_raises(err), OmegaConf.create({}))
    assert info.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("zen-train: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_disk_full_in_a_real_writer_names_the_file(tmp_path, monkeypatch, capsys):
    """ENOSPC from pyarrow inside write_table: one line naming the target, no temporary file left."""
    import pandas as pd
    import pyarrow.parquet as pq

    from zen.io import write_table

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    target = tmp_path / "out" / "features.parquet"

    def generate(cfg) -> None:
        write_table(pd.DataFrame({"a": [1]}), target)

    with pytest.raises(SystemExit) as info:
        run_stage(generate, OmegaConf.create({}))
    assert info.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line == (f"zen-generate: error: no space left on device while writing {target}; "
                    "free space and rerun the same command (it resumes)"), line
    assert list((tmp_path / "out").iterdir()) == []



def test_disk_full_while_saving_a_checkpoint_names_the_file(tmp_path, monkeypatch, capsys):
    """torch.save on a full disk raises an opaque RuntimeError from its zip writer; save_tensors
    serialises in memory, so the failing write is an ENOSPC naming the checkpoint."""
    import torch

    from zen.io.model_files import save_tensors

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    target = tmp_path / "model" / "lstm.pt"
    target.parent.mkdir()

    def generate(cfg) -> None:
        save_tensors({"w": torch.zeros(3)}, target)

    with pytest.raises(SystemExit) as info:
        run_stage(generate, OmegaConf.create({}))
    assert info.value.code == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"zen-generate: error: no space left on device while writing {target}"), line
    assert list(target.parent.iterdir()) == []

def test_config_errors_are_one_line():
    cfg = OmegaConf.create({"model_dir": "???", "out_dir": "${model_dir}/../dataset", "x": "${nope}"})
    OmegaConf.set_struct(cfg, True)
    for key, fragment in [("model_dir", "model_dir is required: zen-generate model_dir="),
                          ("out_dir", "model_dir is required: zen-generate model_dir="),
                          ("x", "config key x: cannot resolve"),
                          ("typo", "the config has no key typo")]:
        with pytest.raises(Exception) as info:
            getattr(cfg, key)
        assert fragment in explain(info.value, "generate"), explain(info.value, "generate")


@pytest.mark.parametrize("err", [KeyError("user_id"), TypeError("bad operand"), ValueError("int('abc')"),
                                 OSError(errno.EIO, "Input/output error"), RuntimeError("bug")])
def test_bugs_keep_their_traceback(err):
    with pytest.raises(type(err)):
        run_stage(_raises(err), OmegaConf.create({}))
