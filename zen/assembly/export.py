"""Export to the bandicoot layout (one CSV per user plus ``antennas.csv``).

bandicoot (de Montjoye et al., JMLR 2016) reads ``interaction,direction,correspondent_id,
datetime,call_duration,antenna_id``; it knows calls and texts only, so data sessions are left
out of the export (they stay in the Parquet/CSV records).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zen.io import atomic_path, read_table


def bandicoot_frame(records: pd.DataFrame) -> pd.DataFrame:
    """Records (schema ``records``) as bandicoot rows (data sessions dropped)."""
    r = records[records["event"] != "data"]
    return pd.DataFrame({
        "user_id": r["user_id"].to_numpy(),
        "interaction": np.where(r["event"].astype(str) == "call", "call", "text"),
        "direction": r["direction"].astype(str).to_numpy(),
        "correspondent_id": r["counterpart_id"].to_numpy(),
        "datetime": r["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
        "call_duration": np.where(r["event"].astype(str) == "call",
                                  r["duration_s"].round().astype("int64"), 0),
        "antenna_id": r["cell_id"].to_numpy(),
    })


def write_bandicoot(record_files: list[Path], antennas: pd.DataFrame, out_dir: Path) -> None:
    """Write ``out_dir/<user_id>.csv`` for every user and ``out_dir/antennas.csv``."""
    frames = [read_table(f) for f in record_files]
    records = pd.concat(frames, ignore_index=True)
    records["timestamp"] = pd.to_datetime(records["timestamp"], utc=True)
    rows = bandicoot_frame(records).sort_values(["user_id", "datetime"], kind="stable")
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "antennas.csv") as tmp:
        antennas.rename(columns={"cell_id": "antenna_id", "lat": "latitude", "lon": "longitude"})[
            ["antenna_id", "latitude", "longitude"]].to_csv(tmp, index=False)
    for uid, group in rows.groupby("user_id", sort=True):
        with atomic_path(out_dir / f"{uid}.csv") as tmp:
            group.drop(columns="user_id").to_csv(tmp, index=False)
