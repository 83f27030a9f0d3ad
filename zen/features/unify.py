"""Level 0, first half: records in Zen's schema -> compact Parquet chunks, split by user."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zen.io import atomic_path
from zen.schema import NO_ID, ZenInputError, validate

LEVEL_COLUMNS = ("user_id", "epoch_s", "event", "direction", "duration_s", "counterpart_id", "cell_id")


def check_cells(records: pd.DataFrame, antennas: pd.DataFrame, records_source: str,
                antennas_source: str) -> None:
    """Fail with one line unless every known ``cell_id`` of the records is in the antennas table."""
    if antennas["cell_id"].duplicated().any():
        i = int(np.flatnonzero(antennas["cell_id"].duplicated().to_numpy())[0])
        raise ZenInputError(f"duplicate cell_id {antennas['cell_id'].iloc[i]}; each antenna once",
                            antennas_source, i + 1, "cell_id")
    cells = records["cell_id"].to_numpy()
    if (cells == NO_ID).all():
        raise ZenInputError("no record has a serving cell (all cell_id are -1); antenna features need cells",
                            records_source, None, "cell_id")
    unknown = (cells != NO_ID) & ~np.isin(cells, antennas["cell_id"].to_numpy())
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise ZenInputError(f"cell_id {cells[i]} is not in the antennas table ({antennas_source})",
                            records_source, i + 1, "cell_id")


def to_level_columns(records: pd.DataFrame) -> pa.Table:
    """The columns the levels read; time as integer UTC epoch seconds."""
    ts = records["timestamp"].astype("datetime64[us, UTC]")
    epoch_s = ts.to_numpy(dtype="datetime64[us]").astype(np.int64) // 1_000_000
    return pa.table({
        "user_id": records["user_id"].to_numpy(np.int64),
        "epoch_s": epoch_s,
        "event": records["event"].astype(str).to_numpy(),
        "direction": records["direction"].astype(str).to_numpy(),
        "duration_s": records["duration_s"].to_numpy(np.float64),
        "counterpart_id": records["counterpart_id"].to_numpy(np.int64),
        "cell_id": records["cell_id"].to_numpy(np.int64),
    })


def write_user_chunks(records: pd.DataFrame, out_dir: Path, n_chunks: int) -> list[Path]:
    """Write validated records as ``chunk-NNNNN.parquet`` files, each holding whole users.

    Args:
        records: a table already validated against ``zen.schema.RECORDS``.
        out_dir: the (secure, temporary) folder.
        n_chunks: number of chunks; user ``u`` goes to chunk ``u mod n_chunks``.

    Returns:
        The chunk files written (chunks without users are skipped).
    """
    table = to_level_columns(records)
    chunk = np.mod(table.column("user_id").to_numpy(), n_chunks)
    order = np.argsort(chunk, kind="stable")
    bounds = np.searchsorted(chunk[order], np.arange(n_chunks + 1))
    files = []
    for k in range(n_chunks):
        rows = order[bounds[k]:bounds[k + 1]]
        if len(rows) == 0:
            continue
        path = Path(out_dir) / f"chunk-{k:05d}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(table.take(pa.array(rows)), tmp)
        files.append(path)
    return files


def load_records(records: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate a raw records table (one-line ``ZenInputError`` on the first bad cell)."""
    return validate(records, "records", source)
