"""Like with like: ``zen-evaluate`` scores against the model's own data and window by default, and
``zen-generate -m`` writes one dataset per job."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zen
from zen.schema import ZenInputError
from zen.stages.common import check_window

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("user_id", "timestamp", "event", "direction", "duration_s", "counterpart_id")


def test_a_model_trained_on_generic_data_is_scored_against_its_held_out_users(copenhagen, tmp_path):
    keep = np.sort(copenhagen.user_ids)[:80]
    records = copenhagen.records[copenhagen.records["user_id"].isin(keep)]
    path = tmp_path / "mine.csv"
    records[list(COLUMNS)].assign(timestamp=records["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")) \
        .to_csv(path, index=False)
    mapping = [f"++data.loader.mapping.columns.{c}={c}" for c in COLUMNS]
    values = {"event": ("call", "sms"), "direction": ("out", "in")}
    mapping += [f"++data.loader.mapping.{k}_values.{v}={v}" for k, vs in values.items() for v in vs]
    overrides = ["data=generic", "model=baseline", "device=cpu", f"data.loader.path={path}",
                 "data.loader.mapping.timestamp_columns=null", "data.loader.mapping.timestamp_format=null",
                 "~data.loader.mapping.zero_pad", "~data.loader.mapping.constants",
                 "data.loader.mapping.missed_values=[]", "~data.loader.mapping.read_options",
                 "data.split.holdout_fraction=0.25", *mapping]
    model = zen.train(overrides, out_dir=tmp_path / "run")
    holdout = model.info["split"]["sizes"]["holdout"]
    assert 0 < holdout < 80
    data = zen.generate(model, n_users=60, days=model.info["days"], network="synthetic_city", device="cpu")
    report = zen.evaluate(data, tasks={"usefulness": False, "privacy": False})
    inputs = report.metrics["inputs"]
    assert inputs["data"] == "generic" and inputs["users"]["holdout"] == holdout  # not Copenhagen's 152
    assert inputs["days"]["holdout"] == model.info["days"] and inputs["window_mismatch"] is None


def test_a_window_of_another_length_is_refused_or_warned(capsys):
    assert check_window(28, 28, "holdout") is None
    assert "generate days=28" in check_window(7, 28, "holdout", "warn")
    assert "WARNING" in capsys.readouterr().err
    with pytest.raises(ZenInputError, match="7 days and the real users"):
        check_window(7, 28, "holdout", "refuse")


def test_multirun_generate_writes_one_dataset_per_job(baseline_model_dir, tmp_path):
    shutil.copytree(baseline_model_dir, tmp_path / "model")  # the default out_dir is beside the model
    proc = subprocess.run([sys.executable, "-m", "zen.cli.generate", "-m", "seed=1,2",
                           f"model_dir={tmp_path / 'model'}", "n_users=30", "days=1",
                           "network=synthetic_city", "device=cpu", "progress=false",
                           f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seeds = [zen.load_dataset(tmp_path / f"dataset-{job}").manifest["seed"] for job in (0, 1)]
    assert seeds == [1, 2]
