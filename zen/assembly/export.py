"""Export to the bandicoot layout (one CSV per user plus ``antennas.csv``).

bandicoot (de Montjoye et al., JMLR 2016) reads ``interaction,direction,correspondent_id,
datetime,call_duration,antenna_id``; it knows calls and texts only, so data sessions are left
out of the export (they stay in the Parquet/CSV records).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.io.storage import Store


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


def write_bandicoot(store: Store, record_files: list[str], antennas: pd.DataFrame,
                   folder: str = "bandicoot") -> None:
    """Write ``folder/<user_id>.csv`` for every user and ``folder/antennas.csv`` in ``store``
    (``record_files``: the keys of the records there)."""
    records = pd.concat([store.read_table(f) for f in record_files], ignore_index=True)
    records["timestamp"] = pd.to_datetime(records["timestamp"], utc=True)
    rows = bandicoot_frame(records).sort_values(["user_id", "datetime"], kind="stable")
    named = antennas.rename(columns={"cell_id": "antenna_id", "lat": "latitude", "lon": "longitude"})
    store.write_table(named[["antenna_id", "latitude", "longitude"]], f"{folder}/antennas.csv", fmt="csv")
    for uid, group in rows.groupby("user_id", sort=True):
        store.write_table(group.drop(columns="user_id"), f"{folder}/{uid}.csv", fmt="csv")
