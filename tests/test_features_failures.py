"""zen-features refuses what it cannot honour: a DuckDB setting that is not a size, and a result in
which k-anonymity suppressed every antenna (nothing to publish)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import features_data as fd
import pandas as pd
import pytest

from zen.features import compute_features
from zen.features.engines import DuckDBEngine
from zen.schema import ZenInputError


@pytest.mark.parametrize("limit", ["4GB'; SET threads = 1; --", "4 lots", "GB", "-1GB", "1e3MB", "4GB 4GB"])
def test_memory_limit_must_be_a_size(limit):
    with pytest.raises(ZenInputError, match=r"local\.memory_limit.*is not a size like 4GB"):
        DuckDBEngine(memory_limit=limit)


@pytest.mark.parametrize("limit", ["4GB", "512 MiB", "1.5gb", " 100KB ", "2TiB", None])
def test_memory_limit_sizes_are_accepted(limit):
    DuckDBEngine(memory_limit=limit).close()


def test_compute_features_refuses_a_bad_memory_limit():
    with pytest.raises(ZenInputError, match="memory_limit"):
        compute_features(fd.records(), fd.antennas(), fd.params(), engine_options={"memory_limit": "4GB'"})


@pytest.mark.parametrize("threads", ["abc", 0, -2, "1; DROP", True])
def test_threads_must_be_a_positive_integer(threads):
    with pytest.raises(ZenInputError, match=r"local\.threads"):
        DuckDBEngine(threads=threads)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zen.cli.features", f"hydra.run.dir={tmp_path / 'run'}",
                           *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_cli_refuses_when_every_antenna_is_suppressed(tmp_path):
    from zen.io.dataset import write_dataset

    write_dataset(tmp_path / "dataset", fd.records(), pd.Timestamp("2024-01-01", tz="UTC"), 14,
                  antennas=fd.antennas())
    proc = _cli(tmp_path, f"dataset={tmp_path / 'dataset'}", f"out_dir={tmp_path / 'out'}",
                "levels.max_events_per_day=5", "levels.min_home_users=100")
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("zen-features: error: "), lines
    for fragment in ["every antenna is suppressed", "all 3", "levels.min_home_users=100",
                     "the most any antenna has is 2", "lower levels.min_home_users"]:
        assert fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()


def test_cli_refuses_a_bad_memory_limit(tmp_path):
    fd.records().to_csv(tmp_path / "records.csv", index=False)
    fd.antennas().to_csv(tmp_path / "antennas.csv", index=False)
    proc = _cli(tmp_path, f"records={tmp_path / 'records.csv'}", f"antennas={tmp_path / 'antennas.csv'}",
                f"out_dir={tmp_path / 'out'}", "local.memory_limit='4GB; --'")
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "local.memory_limit" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()


class _FullDisk:
    """Stands in for a DuckDB connection whose disk is full."""

    def execute(self, sql: str):
        import duckdb

        raise duckdb.IOException('IO Error: Could not write file "x.tmp": No space left on device')

    def close(self) -> None:
        pass


def test_duckdb_disk_full_is_one_line(tmp_path):
    from zen.cli._errors import explain

    engine = DuckDBEngine()
    engine.con.close()
    engine.con = _FullDisk()
    target = tmp_path / "level1" / "user_home" / "chunk-00000.parquet"
    with pytest.raises(OSError) as info:
        engine.write("SELECT 1", target)
    assert explain(info.value, "features") == (
        f"no space left on device while writing {target}; free space and rerun the same command")
