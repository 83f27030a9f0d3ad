"""A small constructed CDR dataset whose antenna features are computed by hand in the tests.

Antennas 1 (0N, 0E), 2 (0N, 1E), 3 (1N, 0E). Users 10, 11 live at antenna 1, users 20, 21 at
antenna 2, user 30 at antenna 3 (alone: suppressed when k = 2), user 99 is a machine (6 SMS in
one night). Week of Monday 2024-01-01 (day 19723, week 2818) and Monday 2024-01-08 (week 2819).
"""

from __future__ import annotations

import pandas as pd

from zen.features import FeatureParams, HourWindow

ROWS = [  # user, UTC time, event, direction, seconds, counterpart, cell
    (10, "2024-01-01 22:00", "call", "out", 100, 20, 1),   # r1  night at 1
    (10, "2024-01-02 10:00", "sms", "out", 0, 11, 2),      # r2  work hours, away at 2
    (10, "2024-01-06 08:00", "call", "in", 50, 21, 1),     # r3  Saturday, morning peak
    (10, "2024-01-08 18:00", "sms", "in", 0, 20, 1),       # r4  evening peak, week 2819
    (11, "2024-01-01 23:00", "sms", "out", 0, 10, 1),      # r5  night at 1
    (11, "2024-01-02 09:30", "call", "out", 200, 30, 1),   # r6  work + morning peak
    (11, "2024-01-08 19:00", "call", "in", 0, 21, 1),      # r7  missed call, night + evening peak
    (20, "2024-01-01 22:00", "call", "in", 100, 10, 2),    # r8  night at 2
    (20, "2024-01-03 20:00", "sms", "out", 0, 10, 2),      # r9  night at 2
    (20, "2024-01-03 12:00", "data", "out", 30, -1, 1),    # r10 data session, away at 1
    (21, "2024-01-06 08:00", "call", "out", 50, 10, 2),    # r11 Saturday
    (21, "2024-01-08 19:00", "call", "out", 0, 11, 2),     # r12 night at 2
    (30, "2024-01-02 09:30", "call", "in", 200, 11, 3),    # r13 never at night: home by all hours
] + [(99, f"2024-01-04 0{h}:00", "sms", "out", 0, 10, 1) for h in range(1, 7)]


def records() -> pd.DataFrame:
    df = pd.DataFrame(ROWS, columns=["user_id", "timestamp", "event", "direction", "duration_s",
                                     "counterpart_id", "cell_id"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["answered"] = ~((df["event"] == "call") & (df["duration_s"] == 0))
    return df


def antennas() -> pd.DataFrame:
    return pd.DataFrame({"cell_id": [1, 2, 3], "site_id": [1, 2, 3], "lat": [0.0, 0.0, 1.0],
                         "lon": [0.0, 1.0, 0.0]})


def params(**overrides) -> FeatureParams:
    base = dict(night=HourWindow(19, 7), work=HourWindow(9, 17), morning_peak=HourWindow(7, 10),
                evening_peak=HourWindow(17, 20), weekend_days=(5, 6), max_events_per_day=5,
                max_contacts=None, min_home_users=2, n_chunks=2)
    base.update(overrides)
    return FeatureParams(**base)


def random_dataset(seed: int = 0, n: int = 20_000, users: int = 300, cells: int = 20):
    """Random records and antennas (with data sessions and missed calls) for engine comparisons."""
    import numpy as np

    rng = np.random.default_rng(seed)
    event = rng.choice(["call", "sms", "data"], n, p=[0.4, 0.4, 0.2])
    direction = np.where(event == "data", "out", rng.choice(["out", "in"], n))
    seconds = pd.to_timedelta(rng.integers(0, 28 * 86400, n), "s")
    records = pd.DataFrame({
        "user_id": rng.integers(0, users, n),
        "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + seconds,
        "event": event, "direction": direction,
        "duration_s": np.where(event == "sms", 0.0, rng.exponential(60.0, n)),
        "counterpart_id": np.where(event == "data", -1, rng.integers(0, int(users * 1.3), n)),
        "cell_id": np.where(rng.random(n) < 0.05, -1, rng.integers(0, cells, n)),
    })
    antennas = pd.DataFrame({"cell_id": np.arange(cells), "lat": 55.6 + rng.random(cells) * 0.1,
                             "lon": 12.5 + rng.random(cells) * 0.1})
    return records, antennas
