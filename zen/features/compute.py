"""One call from validated tables to antenna features, with a temporary secure work folder."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from zen.data.local_time import UTC, to_local_clock
from zen.features.engines import Engine, make_engine
from zen.features.params import FeatureParams
from zen.features.pipeline import LevelOutput, run_levels
from zen.features.unify import check_cells, write_user_chunks
from zen.schema import validate


def compute_features(records: pd.DataFrame, antennas: pd.DataFrame, params: FeatureParams | None = None,
                     engine: str | Engine = "local", work_dir: str | Path | None = None,
                     keep_intermediate: bool = False, engine_options: dict | None = None,
                     records_source: str = "<records>", antennas_source: str = "<antennas>") -> LevelOutput:
    """Antenna features of a CDR table.

    Args:
        records: records in Zen's schema (validated here), with ``cell_id`` set.
        antennas: the antennas table (``cell_id, lat, lon`` in degrees).
        params: level parameters (defaults when None); ``params.timezone`` sets the clock of
            every hour, day and week.
        engine: ``local`` (DuckDB), ``spark``, or an engine object (not closed here).
        work_dir: parent of the temporary secure folder for user-level tables (system temp if None).
        keep_intermediate: keep that folder (its path is then ``LevelOutput.work_dir``).
        engine_options: keyword arguments of the engine's constructor.
        records_source, antennas_source: names used in error messages.

    Raises:
        ZenInputError: bad records or antennas, or cells missing from the antennas table.
    """
    params = params or FeatureParams()
    records = validate(records, "records", records_source)
    if params.timezone != UTC:  # the levels' hours and days are the users' wall clock
        records = records.assign(timestamp=to_local_clock(records["timestamp"], params.timezone))
    antennas = validate(antennas, "antennas", antennas_source)
    check_cells(records, antennas, records_source, antennas_source)
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    secure = Path(tempfile.mkdtemp(prefix="zen-features-", dir=work_dir))
    owned = isinstance(engine, str)
    try:
        started = time.perf_counter()
        chunks = write_user_chunks(records, secure / "level0", params.n_chunks)
        unified = time.perf_counter()
        runner = make_engine(engine, temp_dir=secure / "spill", **(engine_options or {})) if owned else engine
        try:
            output = run_levels(runner, chunks, antennas, params, secure)
        finally:
            if owned:
                runner.close()
        output.seconds = {"unify": unified - started, "levels": time.perf_counter() - unified}
    finally:
        if not keep_intermediate:
            shutil.rmtree(secure, ignore_errors=True)
    output.work_dir = secure if keep_intermediate else None
    return output
