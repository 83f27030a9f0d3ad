"""Zen never deletes what it did not write, and a generation run survives its edges.

Covers: evaluate/generate refusing folders that hold a user's files, ``out_dir`` that is a
file, tiny runs, runs that would not fit in memory, bad numbers, stray temporaries after a kill,
two runs on one folder, and a full disk.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import compose_config, small_generate_config

from zen.assembly.budget import GIB, estimate_memory
from zen.io.dataset import read_dataset
from zen.io.ownership import exclusive, remove_owned, temporaries
from zen.schema import ZenInputError

REPO = Path(__file__).resolve().parents[1]


def _evaluate_cfg(dataset: Path, out: Path, copenhagen_dir: Path, *extra: str):
    return compose_config("evaluate", [f"synthetic={dataset}", f"out_dir={out}",
                                       f"data.loader.path={copenhagen_dir}", "tasks.usefulness=false",
                                       "tasks.privacy=false", *extra])


def _record_checksums(root: Path) -> dict:
    return {k: v for k, v in read_dataset(root).manifest["checksums"].items() if k.startswith("records")}


# ------------------------------------------------------------------------------------ evaluate
def test_evaluate_refuses_a_folder_with_user_files(dataset, copenhagen_dir, tmp_path):
    from zen.stages.evaluate import evaluate

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my thesis notes")
    with pytest.raises(ZenInputError, match="holds files Zen did not write .*notes.txt"):
        evaluate(_evaluate_cfg(dataset, out, copenhagen_dir))
    assert (out / "notes.txt").read_text() == "my thesis notes"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_evaluate_replaces_its_own_report_but_not_a_file_added_to_it(dataset, copenhagen_dir, tmp_path):
    from zen.stages.evaluate import evaluate

    out = tmp_path / "report"
    evaluate(_evaluate_cfg(dataset, out, copenhagen_dir))
    first = (out / "metrics.json").stat().st_mtime_ns
    evaluate(_evaluate_cfg(dataset, out, copenhagen_dir))  # a Zen report: replaced
    assert (out / "metrics.json").stat().st_mtime_ns != first and (out / "report.html").exists()
    (out / "my_figure.png").write_bytes(b"not Zen's")
    with pytest.raises(ZenInputError, match="my_figure.png"):
        evaluate(_evaluate_cfg(dataset, out, copenhagen_dir))
    assert (out / "my_figure.png").read_bytes() == b"not Zen's" and (out / "metrics.json").exists()


def test_evaluate_out_dir_that_is_a_file(dataset, copenhagen_dir, tmp_path):
    from zen.stages.evaluate import evaluate

    out = tmp_path / "report"
    out.write_text("a file")
    with pytest.raises(ZenInputError, match="out_dir is a file"):
        evaluate(_evaluate_cfg(dataset, out, copenhagen_dir))
    assert out.read_text() == "a file"


# ------------------------------------------------------------------------------------ generate
def test_overwrite_refuses_a_dataset_folder_holding_user_files(dataset, model_dir, tmp_path):
    from zen.stages.generate import generate

    out = tmp_path / "dataset"
    generate(small_generate_config(model_dir, out, n_users=40, days=1, shard_users=20))
    (out / "README.txt").write_text("what I did with this dataset")
    with pytest.raises(ZenInputError, match="README.txt"):
        generate(small_generate_config(model_dir, out, n_users=40, days=1, shard_users=20,
                                       overwrite="true", seed=1))
    assert (out / "README.txt").exists()
    read_dataset(out)  # still the complete first dataset
    (out / "README.txt").unlink()
    generate(small_generate_config(model_dir, out, n_users=40, days=1, shard_users=20, overwrite="true",
                                   seed=1))
    assert read_dataset(out).manifest["seed"] == 1


def test_generate_out_dir_that_is_a_file(model_dir, tmp_path):
    from zen.stages.generate import generate

    out = tmp_path / "dataset"
    out.write_text("a file")
    with pytest.raises(ZenInputError, match="out_dir is a file"):
        generate(small_generate_config(model_dir, out))
    assert out.read_text() == "a file"


def test_remove_owned_keeps_everything_else(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    mine, theirs = tmp_path / "a" / "b" / "mine.parquet", tmp_path / "a" / "theirs.txt"
    mine.write_text("x")
    theirs.write_text("y")
    remove_owned(tmp_path, [mine])
    assert not mine.exists() and not (tmp_path / "a" / "b").exists() and theirs.exists()


@pytest.mark.parametrize("n_users,days", [(1, 1), (5, 0.05)])
def test_tiny_runs_work(model_dir, tmp_path, n_users, days):
    from zen.stages.generate import generate

    out = tmp_path / "tiny"
    summary = generate(small_generate_config(model_dir, out, n_users=n_users, days=days))
    assert summary["users"] == n_users and (out / "manifest.json").exists()


@pytest.mark.parametrize("setting,fragment", [
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"n_users": "abc"}, "n_users must be an integer"),
    ({"n_users": 0}, "n_users must be an integer >= 1"),
    ({"days": "nan"}, "days must be a number > 0"),
    ({"days": "inf"}, "days must be a number > 0"),
    ({"shard_users": 2.5}, "shard_users must be an integer"),
    ({"days": 100000}, "not a time window"),  # 2013 + 274 years: beyond pandas' datetime64[ns]
])
def test_bad_numbers_are_one_line(model_dir, tmp_path, setting, fragment):
    from zen.stages.generate import generate

    with pytest.raises(ZenInputError, match=fragment):
        generate(small_generate_config(model_dir, tmp_path / "out", **setting))
    assert not (tmp_path / "out").exists()


def test_a_run_too_big_for_memory_is_refused_with_the_fix(model_dir, tmp_path):
    from zen.stages.generate import generate

    with pytest.raises(ZenInputError, match=r"needs about .* GiB .*lower shard_users to"):
        generate(small_generate_config(model_dir, tmp_path / "out", days=50000, memory_limit_gb=4))
    with pytest.raises(ZenInputError, match="generate fewer days"):
        generate(small_generate_config(model_dir, tmp_path / "out", n_users=1000, days=50000,
                                       memory_limit_gb=0.8))
    assert not (tmp_path / "out").exists()


def test_memory_estimate_grows_with_the_shard_not_the_population():
    small = estimate_memory(100_000, 7, 20_000, 3.0)
    large = estimate_memory(1_000_000, 7, 20_000, 3.0)
    assert large.shard == small.shard and large.population == 10 * small.population
    assert 0.5 * GIB < small.total < 2 * GIB  # measured: ~1.0 GiB (see zen/assembly/budget.py)


def test_cli_without_model_dir_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "zen.cli.generate", f"hydra.run.dir={tmp_path / 'run'}"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "model_dir is required" in lines[0]
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- crash hygiene
def test_resume_sweeps_temporaries_and_the_manifest_lists_only_final_files(dataset, model_dir, tmp_path,
                                                                            monkeypatch):
    import zen.generation.pipeline as pipeline
    import zen.stages.generate as stage

    out = tmp_path / "resumed"
    original = pipeline.generate_shard
    calls = {"n": 0}

    def killed_on_third_shard(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "generate_shard", killed_on_third_shard)
    with pytest.raises(KeyboardInterrupt):
        stage.generate(small_generate_config(model_dir, out))
    day = sorted((out / "records").iterdir())[0]  # what a SIGKILL mid-write leaves behind
    (day / ".shard-00002-own.parquet.k1ll3d00.tmp").write_bytes(b"half a parquet file")
    (out / ".users.parquet.k1ll3d01.tmp").write_bytes(b"half")
    monkeypatch.setattr(pipeline, "generate_shard", original)
    stage.generate(small_generate_config(model_dir, out))
    assert temporaries(out) == []
    assert not any(name.startswith(".") or "/." in name for name in read_dataset(out).manifest["checksums"])
    assert _record_checksums(out) == _record_checksums(dataset)


def test_a_second_run_on_the_same_folder_is_refused_with_the_holders_pid(model_dir, tmp_path):
    from zen.stages.generate import generate

    out = tmp_path / "busy"
    out.mkdir()
    with exclusive(out, "zen-generate"):
        with pytest.raises(ZenInputError, match=rf"another zen-generate \(pid {os.getpid()}\)"):
            generate(small_generate_config(model_dir, out))
        assert not (out / ".work").exists()
    generate(small_generate_config(model_dir, out, n_users=20, days=1))
    assert (out / "manifest.json").exists() and not (out / ".zen.pid").exists()


def test_disk_full_leaves_no_partial_file_and_the_same_command_resumes(dataset, model_dir, tmp_path,
                                                                        monkeypatch):
    import zen.io.storage as storage
    import zen.stages.generate as stage

    out = tmp_path / "full"
    original = storage.write_table
    calls = {"n": 0}

    def disk_fills_up(df, path, fmt=None):
        calls["n"] += 1
        if calls["n"] == 9:
            with open(Path(path).with_name(f".{Path(path).name}.d1skfu11.tmp"), "wb") as half:
                half.write(b"PAR1")  # a write cut short by ENOSPC, as atomic_path would leave it
            Path(path).with_name(f".{Path(path).name}.d1skfu11.tmp").unlink()
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(df, path, fmt=fmt)

    monkeypatch.setattr(storage, "write_table", disk_fills_up)
    with pytest.raises(OSError, match="No space left"):
        stage.generate(small_generate_config(model_dir, out))
    assert temporaries(out) == [] and not (out / "manifest.json").exists()
    monkeypatch.setattr(storage, "write_table", original)
    stage.generate(small_generate_config(model_dir, out))
    assert _record_checksums(out) == _record_checksums(dataset)
    assert json.loads((out / "manifest.json").read_text())["rows"]["records"] > 0
