"""Records of synthetic users from decoded peer outputs, with the schema's per-event rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.schema import DIRECTIONS, EVENTS


def decoded_records(user: np.ndarray, t_s: np.ndarray, event: np.ndarray, direction: np.ndarray,
             duration_s: np.ndarray, answered: np.ndarray, start: pd.Timestamp) -> pd.DataFrame:
    """A schema-valid records table from decoded codes; applies the per-event rules."""
    is_call = event == EVENTS.index("call")
    duration_s = np.where(event == EVENTS.index("sms"), 0.0, np.maximum(duration_s, 0.0))
    answered = np.where(is_call, answered, True)
    duration_s = np.where(answered, duration_s, 0.0)
    direction = np.where(event == EVENTS.index("data"), DIRECTIONS.index("out"), direction)
    ts = pd.Timestamp(start)
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    out = pd.DataFrame({
        "user_id": user.astype(np.int64),
        "timestamp": (ts + pd.to_timedelta(np.round(t_s * 1e6).astype(np.int64), unit="us"))
        .astype("datetime64[us, UTC]"),
        "event": pd.Categorical.from_codes(event, list(EVENTS)),
        "direction": pd.Categorical.from_codes(direction, list(DIRECTIONS)),
        "duration_s": duration_s.astype(np.float32),
        "answered": answered.astype(bool),
        "counterpart_id": np.full(len(user), -1, np.int64),
        "cell_id": np.full(len(user), -1, np.int64),
        "volume_bytes": np.full(len(user), -1, np.int64),
    })
    return out.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
