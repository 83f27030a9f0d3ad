"""Engines that run the level queries: DuckDB in-process (``local``) and PySpark (``spark``).

Both expose the same five operations on named tables, so the pipeline does not know which one runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pandas as pd

from zen.schema import ZenInputError, shown

DISK_FULL_WORDS = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded"}
MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


class Engine(Protocol):
    name: str
    chunked: bool  # True: the pipeline feeds level 0-1 one user chunk at a time

    def read_parquet(self, name: str, path: Path) -> None: ...
    def register_frame(self, name: str, frame: pd.DataFrame) -> None: ...
    def view(self, name: str, sql: str) -> None: ...
    def write(self, sql: str, path: Path) -> None: ...
    def fetch(self, sql: str) -> pd.DataFrame: ...
    def close(self) -> None: ...


def _quoted(path: Path | str) -> str:
    """A SQL string literal of a path (single quotes doubled)."""
    return "'" + Path(path).as_posix().replace("'", "''") + "'"


@contextlib.contextmanager
def _disk_full_as_oserror(path: Path | None) -> Iterator[None]:
    """Re-raise DuckDB's 'No space left on device' (writing or spilling) as ``OSError(ENOSPC)``."""
    import duckdb

    try:
        yield
    except duckdb.Error as err:
        text = str(err)
        for number, words in DISK_FULL_WORDS.items():
            if words in text:
                raise OSError(number, text.splitlines()[0], str(path) if path else None) from err
        raise


def _checked_memory_limit(value: object) -> str | None:
    """``local.memory_limit`` as DuckDB takes it (``4GB``, ``512 MiB``); it goes into SQL, so nothing else."""
    if value is None or value == "":
        return None
    if not MEMORY_LIMIT.fullmatch(str(value).strip()):
        raise ZenInputError(f"memory_limit {shown(value)} is not a size like 4GB, 512MB or 1.5GiB "
                            "(units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", column="local.memory_limit")
    return str(value).strip()


def _checked_threads(value: object) -> int:
    """``local.threads``: a positive integer, or None for every core."""
    if value is None:
        return os.cpu_count() or 1
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(str(value).strip()) < 1:
        raise ZenInputError(f"threads {shown(value)} is not a positive integer (null: every core)",
                            column="local.threads")
    return int(str(value).strip())


class DuckDBEngine:
    """In-process DuckDB: streams Parquet, spills to disk beyond ``memory_limit``.

    Args:
        threads: worker threads (the machine's cores by default).
        memory_limit: DuckDB's memory cap, e.g. ``"4GB"``.
        temp_dir: where DuckDB spills (inside the secure work folder).
    """

    name = "local"
    chunked = True

    def __init__(self, threads: int | None = None, memory_limit: str | None = None,
                 temp_dir: Path | None = None):
        import duckdb

        threads = _checked_threads(threads)
        memory_limit = _checked_memory_limit(memory_limit)
        self.con = duckdb.connect()
        self.con.execute(f"SET threads = {threads}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        if temp_dir is not None:
            self.con.execute(f"SET temp_directory = {_quoted(temp_dir)}")
        self.con.execute("SET preserve_insertion_order = false")

    def read_parquet(self, name: str, path: Path) -> None:
        pattern = Path(path) / "**" / "*.parquet" if Path(path).is_dir() else Path(path)
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_quoted(pattern)})")

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(f"{name}_frame", frame)
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {name}_frame")

    def view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def write(self, sql: str, path: Path) -> None:
        """Write the query's result as one Parquet file, atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with _disk_full_as_oserror(path):
            self.con.execute(f"COPY ({sql}) TO {_quoted(tmp)} (FORMAT PARQUET)")
        os.replace(tmp, path)

    def fetch(self, sql: str) -> pd.DataFrame:
        with _disk_full_as_oserror(None):
            return self.con.sql(sql).df()

    def close(self) -> None:
        self.con.close()


class SparkEngine:
    """PySpark (local mode by default, or any master); the optional extra ``zen-cdr[spark]``.

    Args:
        master: Spark master URL, e.g. ``local[*]`` or ``spark://host:7077``.
        shuffle_partitions: ``spark.sql.shuffle.partitions`` (small for one machine).
        driver_memory: JVM heap of the driver, e.g. ``"4g"``.
        session: an existing SparkSession to use (and not stop); tests share one.
    """

    name = "spark"
    chunked = False

    def __init__(self, master: str = "local[*]", shuffle_partitions: int = 8,
                 driver_memory: str = "4g", session=None):
        try:
            from pyspark.sql import SparkSession
        except ImportError as err:
            raise ZenInputError("engine=spark needs PySpark: pip install 'zen-cdr[spark]' (and Java 17)",
                                column="engine") from err
        self.owns_session = session is None
        self.spark = session or (
            SparkSession.builder.master(master).appName("zen-features")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
            .config("spark.driver.memory", driver_memory)
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())
        if self.owns_session:
            self.spark.sparkContext.setLogLevel("ERROR")
        self.spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))

    def read_parquet(self, name: str, path: Path) -> None:
        reader = self.spark.read.option("recursiveFileLookup", "true")
        reader.parquet(Path(path).as_posix()).createOrReplaceTempView(name)

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def view(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)

    def write(self, sql: str, path: Path) -> None:
        """Write the query's result as a Parquet folder, atomically (rename when complete)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.spark.sql(sql).write.mode("overwrite").parquet(tmp.as_posix())
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)

    def fetch(self, sql: str) -> pd.DataFrame:
        return self.spark.sql(sql).toPandas()

    def close(self) -> None:
        if self.owns_session:
            self.spark.stop()


def make_engine(name: str, temp_dir: Path | None = None, **options) -> Engine:
    """``local`` (DuckDB) or ``spark``; ``options`` go to the engine's constructor."""
    if name == "local":
        return DuckDBEngine(temp_dir=temp_dir, **options)
    if name == "spark":
        return SparkEngine(**options)
    raise ZenInputError(f"unknown engine {name!r}; choose 'local' or 'spark'", column="engine")
