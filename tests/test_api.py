"""The Python API (``zen.train / generate / evaluate / load_*``): the quick-start example runs, and
the library and the command line give the same dataset for the same seed."""

from __future__ import annotations

import hashlib
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import zen
from zen.schema import ZenInputError

REPO = Path(__file__).resolve().parents[1]


def _record_sums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "records").rglob("*.parquet"))}


def test_the_api_is_exported():
    for name in ("train", "generate", "evaluate", "load_model", "load_dataset", "load_report", "compose",
                 "Model", "Dataset", "Report"):
        assert name in zen.__all__ and getattr(zen, name) is not None
    cfg = zen.compose("generate", ["model_dir=/nowhere"], n_users=5)  # no private resolver call
    assert cfg.n_users == 5 and cfg.paths.data


def test_quickstart_example_runs(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("ZEN_DATA", str(shared_data))
    monkeypatch.setattr(sys, "argv", ["quickstart.py", str(tmp_path / "qs")])
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(REPO / "examples" / "quickstart.py"), run_name="__main__")
    assert (tmp_path / "qs" / "report" / "metrics.json").exists()


def test_library_and_cli_give_the_same_dataset(baseline_model_dir, tmp_path):
    settings = {"network": "synthetic_city", "shard_users": 40, "seed": 7, "device": "cpu"}
    lib = zen.generate(baseline_model_dir, n_users=100, days=2, out_dir=tmp_path / "lib", **settings)
    assert isinstance(lib.records, pd.DataFrame) and len(lib.records) and lib.path == tmp_path / "lib"
    args = [f"{k}={v}" for k, v in settings.items()]
    proc = subprocess.run([sys.executable, "-m", "zen.cli.generate", f"model_dir={baseline_model_dir}",
                           "n_users=100", "days=2", f"out_dir={tmp_path / 'cli'}", "progress=false", *args,
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert _record_sums(tmp_path / "lib") == _record_sums(tmp_path / "cli")



def test_generate_takes_a_file_uri_as_zen_generate_does(baseline_model_dir, tmp_path):
    folder = tmp_path / "a dataset"  # a space: the URI spells it %20
    data = zen.generate(baseline_model_dir, n_users=20, days=1, out_dir=folder.as_uri(),
                        network="synthetic_city", device="cpu")
    assert data.path == folder and len(data.records) and (folder / "manifest.json").is_file()

def test_mobility_mode_gives_the_library_stays(baseline_model_dir, tmp_path):
    from zen.mobility import MobilityParams, iter_stay_frames

    written = zen.generate(baseline_model_dir, n_users=50, days=2, out_dir=tmp_path / "stays",
                           mode="mobility", network="synthetic_city", shard_users=20, seed=3, device="cpu")
    places = written.extra["places"]
    params = MobilityParams.load(baseline_model_dir / "mobility.json")
    frames = list(iter_stay_frames(places, 50, params, 2, "2013-02-04", seed=3, shard_users=20))
    for k, frame in enumerate(frames):
        got = pd.read_parquet(tmp_path / "stays" / "stays" / f"shard-{k:05d}.parquet")
        pd.testing.assert_frame_equal(got, frame)
    assert np.array_equal(np.unique(pd.concat(frames)["user_id"]), np.arange(50))
    pd.testing.assert_frame_equal(written.extra["stays"], pd.concat(frames, ignore_index=True))


def test_a_missing_data_folder_is_one_line_naming_zen_data(tmp_path):
    with pytest.raises(ZenInputError, match="ZEN_DATA"):
        zen.train(["model=baseline", f"paths.data={tmp_path / 'nowhere'}"], out_dir=tmp_path / "t")
