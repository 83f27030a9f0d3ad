"""A model folder is data: a crafted checkpoint is refused and never runs code.

Model folders are what people download and share; ``zen-generate`` and ``zen-train resume=true``
load their checkpoints. A pickle payload inside ``lstm.pt`` or ``last.pt`` must be refused with
one line (exit code 2), and its code must not run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zen.io.model_files import load_tensors, read_json
from zen.schema import ZenInputError
from zen.traffic.lstm import LSTMTrafficModel


class _Payload:
    """Unpickling this runs ``os.system`` and leaves a marker file: what an attacker would ship."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _crafted_checkpoint(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {"w": torch.zeros(2)}, "trap": _Payload(marker)}, path)
    return path


def test_pickle_payload_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    ckpt = _crafted_checkpoint(tmp_path / "lstm.pt", marker)
    with pytest.raises(ZenInputError, match="objects other than tensors"):
        load_tensors(ckpt)
    assert not marker.exists()


def test_tensor_checkpoint_loads(tmp_path):
    torch.save({"model": {"w": torch.ones(3)}, "state": {"epoch": 2, "history": [{"val": 1.5}]}},
               tmp_path / "ok.pt")
    state = load_tensors(tmp_path / "ok.pt")
    assert torch.equal(state["model"]["w"], torch.ones(3)) and state["state"]["epoch"] == 2


@pytest.mark.parametrize("cut", [0.5, 0.1])
def test_truncated_checkpoint_is_one_clear_error(tmp_path, cut):
    torch.save({"model": {"w": torch.randn(1000)}}, tmp_path / "full.pt")
    blob = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[: int(len(blob) * cut)])
    with pytest.raises(ZenInputError, match="truncated or not a PyTorch checkpoint"):
        load_tensors(tmp_path / "cut.pt")


def test_lstm_load_refuses_a_payload(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "lstm.json").write_text("{}")
    _crafted_checkpoint(tmp_path / "lstm.pt", marker)
    with pytest.raises(ZenInputError, match="objects other than tensors"):
        LSTMTrafficModel.load(tmp_path)
    assert not marker.exists()


def test_broken_json_names_the_line(tmp_path):
    (tmp_path / "model.json").write_text('{\n  "a": 1,\n  oops\n}')
    with pytest.raises(ZenInputError, match="row 3.*not valid JSON"):
        read_json(tmp_path / "model.json", "model.json")


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[1])


def _assert_one_line(proc: subprocess.CompletedProcess, fragment: str) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert fragment in lines[0]


def test_generate_refuses_a_crafted_model_folder(baseline_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(baseline_model_dir, model)
    (model / "traffic" / "kind.txt").write_text("lstm\n")
    (model / "traffic" / "lstm.json").write_text("{}")
    marker = tmp_path / "pwned"
    _crafted_checkpoint(model / "traffic" / "lstm.pt", marker)
    proc = _run("zen.cli.generate", f"model_dir={model}", f"out_dir={tmp_path / 'dataset'}",
                "n_users=20", "days=1", "progress=false", "network=synthetic_city",
                f"hydra.run.dir={tmp_path / 'run'}")
    _assert_one_line(proc, "objects other than tensors")
    assert not marker.exists()
    assert not (tmp_path / "dataset").exists() and not (tmp_path / "run").exists()


def test_train_resume_refuses_a_crafted_checkpoint(copenhagen_dir, tmp_path):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    _crafted_checkpoint(run / "model" / "checkpoints" / "last.pt", marker)
    proc = _run("zen.cli.train", "model=lstm_small", "resume=true", "device=cpu",
                f"data.loader.path={copenhagen_dir}", f"hydra.run.dir={run}")
    _assert_one_line(proc, "objects other than tensors")
    assert not marker.exists()
