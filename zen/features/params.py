"""Parameters of the antenna feature levels: clock windows, calendar, machine filters, k-anonymity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from zen.data.local_time import check_timezone
from zen.schema import ZenInputError

SECONDS_PER_DAY = 86_400
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; weekdays count Monday = 0


@dataclass(frozen=True)
class HourWindow:
    """Local hours ``[start, end)``; ``start > end`` wraps past midnight (e.g. 19 -> 7)."""

    start: int
    end: int

    def __post_init__(self):
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 24:
                raise ZenInputError(f"hour window {name} must be an integer hour in 0..24, got {value!r}")
        if self.start == self.end:
            raise ZenInputError(f"hour window [{self.start}, {self.end}) is empty")

    def sql(self, column: str = "hour") -> str:
        """A SQL predicate on an integer hour column (0..23)."""
        if self.start < self.end:
            return f"({column} >= {self.start} AND {column} < {self.end})"
        return f"({column} >= {self.start} OR {column} < {self.end})"


@dataclass(frozen=True)
class FeatureParams:
    """Everything the levels need besides the data.

    Attributes:
        night: hours that vote for the home antenna (local time).
        work: working hours for the hourly ``*_work_share`` features.
        morning_peak, evening_peak: the two windows of the ``*_peak_ratio`` features.
        weekend_days: weekdays counted as rest days (Monday = 0 ... Sunday = 6).
        holidays: ISO dates (local) counted as rest days, like weekends.
        utc_offset_hours: added to UTC timestamps to get local time (hours; e.g. 1 for CET).
        timezone: the users' IANA time zone (daylight saving included); ``UTC`` leaves the
            clock to ``utc_offset_hours``. Set one of the two, not both.
        max_events_per_day: users above this on any day are dropped as machines (None: no limit).
        max_contacts: users with more distinct counterparts are dropped as machines (None: no limit).
        min_home_users: k-anonymity threshold; antennas with fewer home users are suppressed.
        n_chunks: user chunks that the local engine processes one at a time (bounds memory).
    """

    night: HourWindow = HourWindow(19, 7)
    work: HourWindow = HourWindow(9, 17)
    morning_peak: HourWindow = HourWindow(7, 10)
    evening_peak: HourWindow = HourWindow(17, 20)
    weekend_days: tuple[int, ...] = (5, 6)
    holidays: tuple[str, ...] = ()
    utc_offset_hours: float = 0.0
    timezone: str = "UTC"
    max_events_per_day: int | None = 1000
    max_contacts: int | None = 1000
    min_home_users: int = 10
    n_chunks: int = 4

    def __post_init__(self):
        if any(not 0 <= d <= 6 for d in self.weekend_days):
            raise ZenInputError(f"weekend_days must be weekdays 0..6 (Monday = 0), got {self.weekend_days}")
        if self.min_home_users < 1:
            raise ZenInputError(f"min_home_users must be >= 1, got {self.min_home_users}")
        if self.n_chunks < 1:
            raise ZenInputError(f"n_chunks must be >= 1, got {self.n_chunks}")
        check_timezone(self.timezone, "levels.timezone")
        if self.timezone != "UTC" and self.utc_offset_hours:
            raise ZenInputError(f"levels.timezone={self.timezone} and levels.utc_offset_hours="
                                f"{self.utc_offset_hours:g} both shift the clock; set one of them")
        self.holiday_days()

    def holiday_days(self) -> list[int]:
        """Holidays as day numbers since 1970-01-01 (the ``day`` column of the levels)."""
        days = []
        for text in self.holidays:
            try:
                days.append((date.fromisoformat(str(text)) - date(1970, 1, 1)).days)
            except ValueError as err:
                raise ZenInputError(f"holiday {text!r} is not an ISO date (YYYY-MM-DD)") from err
        return days

    @classmethod
    def from_config(cls, cfg) -> FeatureParams:
        """Build from a mapping (the ``levels`` node of ``configs/features.yaml``)."""
        def window(key: str) -> HourWindow:
            start, end = cfg[key]
            return HourWindow(int(start), int(end))

        def optional_int(key: str) -> int | None:
            return None if cfg.get(key) is None else int(cfg[key])

        return cls(night=window("night_hours"), work=window("work_hours"),
                   morning_peak=window("morning_peak_hours"), evening_peak=window("evening_peak_hours"),
                   weekend_days=tuple(int(d) for d in cfg["weekend_days"]),
                   holidays=tuple(str(d) for d in (cfg.get("holidays") or ())),
                   utc_offset_hours=float(cfg.get("utc_offset_hours", 0.0)),
                   timezone=str(cfg.get("timezone") or "UTC"),
                   max_events_per_day=optional_int("max_events_per_day"),
                   max_contacts=optional_int("max_contacts"),
                   min_home_users=int(cfg["min_home_users"]), n_chunks=int(cfg.get("n_chunks", 1)))
