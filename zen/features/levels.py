"""The feature levels as SQL, in the dialect subset that DuckDB and Spark SQL share.

Both engines run exactly these queries, so they compute the same features by construction; the
tests check it. Time is handled as integer arithmetic on local epoch seconds (no time-zone or
date functions, whose names differ between engines): ``day`` = days since 1970-01-01,
``hour`` = 0..23, ``weekday`` = Monday 0 .. Sunday 6, ``week`` = Monday-based weeks since 1970.

Tables, by level (user-level tables never leave the work folder):

- level 0 input ``records``: user_id, epoch_s, event, direction, duration_s, counterpart_id, cell_id.
- level 0: ``user_activity`` (per user: events, busiest day, contacts, is_machine) and ``events``
  (records of non-machine users with day and hour).
- level 1: ``user_home``, ``user_day``, ``user_hour``, ``user_contacts``.
- level 2 (antenna level): ``home_users``, ``antenna_week``, ``antenna_hour``, ``antenna_pairs``.
- level 3: ``f_alltime``, ``f_variance``, ``f_daily``, ``f_hourly``, ``f_interactions``.
- level 4: ``features``, one row per antenna that passes the k-anonymity threshold.
"""

from __future__ import annotations

from zen.features.params import EPOCH_WEEKDAY, SECONDS_PER_DAY, FeatureParams
from zen.geo import EARTH_RADIUS_M

EARTH_RADIUS_KM = EARTH_RADIUS_M / 1000.0  # written into the SQL distance below

COUNTS = {  # per-event indicator of each counted metric
    "og_calls": "CASE WHEN event = 'call' AND direction = 'out' THEN 1 ELSE 0 END",
    "ic_calls": "CASE WHEN event = 'call' AND direction = 'in' THEN 1 ELSE 0 END",
    "og_sms": "CASE WHEN event = 'sms' AND direction = 'out' THEN 1 ELSE 0 END",
    "ic_sms": "CASE WHEN event = 'sms' AND direction = 'in' THEN 1 ELSE 0 END",
    "data_sessions": "CASE WHEN event = 'data' THEN 1 ELSE 0 END",
}
SECONDS = {  # per-event call seconds
    "og_call_s": "CASE WHEN event = 'call' AND direction = 'out' THEN duration_s ELSE 0.0 END",
    "ic_call_s": "CASE WHEN event = 'call' AND direction = 'in' THEN duration_s ELSE 0.0 END",
}
METRICS = (*COUNTS, *SECONDS)
RATIOS = (("calls_ratio", "og_calls", "ic_calls"), ("sms_ratio", "og_sms", "ic_sms"),
          ("call_s_ratio", "og_call_s", "ic_call_s"))
DIRECTED = ("og_calls", "ic_calls", "og_sms", "ic_sms", "og_call_s", "ic_call_s")


def _ratio(num: str, den: str) -> str:
    """``num / den`` as DOUBLE, NULL when ``den`` is 0 (engines disagree on x/0 otherwise)."""
    return f"CAST({num} AS DOUBLE) / NULLIF(CAST({den} AS DOUBLE), 0.0)"


def _sum_metrics(prefix: str = "") -> str:
    counts = [f"CAST(SUM({prefix}{m}) AS BIGINT) AS {m}" for m in COUNTS]
    seconds = [f"CAST(SUM({prefix}{m}) AS DOUBLE) AS {m}" for m in SECONDS]
    return ",\n  ".join(counts + seconds)


def _event_metrics() -> str:
    counts = [f"CAST(SUM({expr}) AS BIGINT) AS {m}" for m, expr in COUNTS.items()]
    seconds = [f"CAST(SUM({expr}) AS DOUBLE) AS {m}" for m, expr in SECONDS.items()]
    return ",\n  ".join(counts + seconds)


# ---------------------------------------------------------------- level 0: unify and filter machines

def level0_clock(p: FeatureParams) -> str:
    """``clocked``: records with local ``day`` and ``hour``."""
    offset = int(round(p.utc_offset_hours * 3600))
    return f"""
SELECT user_id, counterpart_id, cell_id, event, direction, duration_s, day,
  CAST(FLOOR((local_s - day * {SECONDS_PER_DAY}) / 3600) AS BIGINT) AS hour
FROM (
  SELECT *, CAST(FLOOR(local_s / {SECONDS_PER_DAY}) AS BIGINT) AS day
  FROM (SELECT *, epoch_s + {offset} AS local_s FROM records) r
) d"""


def level0_user_activity(p: FeatureParams) -> str:
    """``user_activity``: per user, events, busiest day, distinct contacts and the machine flag."""
    busy = f"a.max_day_events > {p.max_events_per_day}" if p.max_events_per_day is not None else "FALSE"
    social = f"COALESCE(c.contacts, 0) > {p.max_contacts}" if p.max_contacts is not None else "FALSE"
    return f"""
SELECT a.user_id, a.events, a.max_day_events, COALESCE(c.contacts, 0) AS contacts,
  ({busy} OR {social}) AS is_machine
FROM (
  SELECT user_id, CAST(SUM(n) AS BIGINT) AS events, CAST(MAX(n) AS BIGINT) AS max_day_events
  FROM (SELECT user_id, day, COUNT(*) AS n FROM clocked GROUP BY user_id, day) per_day
  GROUP BY user_id
) a
LEFT JOIN (
  SELECT user_id, CAST(COUNT(DISTINCT counterpart_id) AS BIGINT) AS contacts
  FROM clocked WHERE counterpart_id <> -1 GROUP BY user_id
) c ON a.user_id = c.user_id"""


def level0_events() -> str:
    """``events``: the records of users that are not machines."""
    return """
SELECT e.* FROM clocked e
JOIN user_activity a ON e.user_id = a.user_id
WHERE NOT a.is_machine"""


# ---------------------------------------------------------------- level 1: per user

def level1_home(p: FeatureParams) -> str:
    """``user_home``: the antenna a user is seen at most at night (ties: most events, lowest id).

    Users never seen at night get the antenna they are seen at most at any hour.
    """
    return f"""
SELECT user_id, cell_id AS home_cell, night_events
FROM (
  SELECT user_id, cell_id, night_events,
    ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY night_events DESC, all_events DESC, cell_id) AS home_rank
  FROM (
    SELECT user_id, cell_id, CAST(SUM(CASE WHEN {p.night.sql()} THEN 1 ELSE 0 END) AS BIGINT) AS night_events,
      CAST(COUNT(*) AS BIGINT) AS all_events
    FROM events WHERE cell_id <> -1 GROUP BY user_id, cell_id
  ) per_cell
) ranked
WHERE home_rank = 1"""


def level1_day() -> str:
    """``user_day``: the metrics per user and local day."""
    return f"""
SELECT user_id, day,
  {_event_metrics()}
FROM events GROUP BY user_id, day"""


def level1_hour() -> str:
    """``user_hour``: the metrics per user and local hour of day (all days together)."""
    return f"""
SELECT user_id, hour,
  {_event_metrics()}
FROM events GROUP BY user_id, hour"""


def level1_contacts() -> str:
    """``user_contacts``: outgoing calls, SMS and call seconds per (user, counterpart).

    Only ``out`` records count, so an on-network interaction recorded at both ends counts once.
    """
    return """
SELECT user_id, counterpart_id,
  CAST(SUM(CASE WHEN event = 'call' THEN 1 ELSE 0 END) AS BIGINT) AS calls,
  CAST(SUM(CASE WHEN event = 'sms' THEN 1 ELSE 0 END) AS BIGINT) AS sms,
  CAST(SUM(CASE WHEN event = 'call' THEN duration_s ELSE 0.0 END) AS DOUBLE) AS call_s
FROM events
WHERE direction = 'out' AND event IN ('call', 'sms') AND counterpart_id <> -1
GROUP BY user_id, counterpart_id"""


LEVEL0 = {"clocked": level0_clock, "user_activity": level0_user_activity}
LEVEL1 = {"user_home": level1_home, "user_day": lambda p: level1_day(),
          "user_hour": lambda p: level1_hour(), "user_contacts": lambda p: level1_contacts()}


# ---------------------------------------------------------------- level 2: antenna level

def level2_home_users(p: FeatureParams) -> str:
    """``home_users``: home users per antenna and whether it passes the k-anonymity threshold."""
    return f"""
SELECT home_cell AS cell_id, CAST(COUNT(*) AS BIGINT) AS home_users,
  (COUNT(*) >= {p.min_home_users}) AS kept
FROM user_home GROUP BY home_cell"""


def _homed(table: str) -> str:
    """Rows of a user-level table joined to the user's home antenna, kept antennas only."""
    return f"""{table} t
  JOIN user_home h ON t.user_id = h.user_id
  JOIN home_users k ON h.home_cell = k.cell_id AND k.kept"""


def level2_week(p: FeatureParams) -> str:
    """``antenna_week``: metrics per antenna, week and week part (``workday`` or ``weekend``).

    Holidays count as ``weekend``.
    """
    weekend = ", ".join(str(d) for d in p.weekend_days) or "-1"
    holidays = ", ".join(str(d) for d in p.holiday_days()) or "-1"
    return f"""
SELECT cell_id, week, week_part,
  {_sum_metrics()}
FROM (
  SELECT h.home_cell AS cell_id,
    CAST(FLOOR((t.day + {EPOCH_WEEKDAY}) / 7) AS BIGINT) AS week,
    CASE WHEN (t.day + {EPOCH_WEEKDAY}) % 7 IN ({weekend}) OR t.day IN ({holidays})
      THEN 'weekend' ELSE 'workday' END AS week_part,
    {", ".join(f"t.{m}" for m in METRICS)}
  FROM {_homed("user_day")}
) w
GROUP BY cell_id, week, week_part"""


def level2_hour() -> str:
    """``antenna_hour``: metrics per antenna and hour of day."""
    return f"""
SELECT h.home_cell AS cell_id, t.hour,
  {_sum_metrics("t.")}
FROM {_homed("user_hour")}
GROUP BY h.home_cell, t.hour"""


def level2_pairs() -> str:
    """``antenna_pairs``: outgoing interactions from users homed at ``cell_id`` to users homed at
    ``other_cell``; suppressed destination antennas are pooled as ``other_cell = -1``."""
    return """
SELECT cell_id, other_cell, CAST(SUM(calls) AS BIGINT) AS calls, CAST(SUM(sms) AS BIGINT) AS sms,
  CAST(SUM(call_s) AS DOUBLE) AS call_s
FROM (
  SELECT h.home_cell AS cell_id,
    CASE WHEN k2.kept THEN h2.home_cell ELSE -1 END AS other_cell, t.calls, t.sms, t.call_s
  FROM user_contacts t
    JOIN user_home h ON t.user_id = h.user_id
    JOIN home_users k ON h.home_cell = k.cell_id AND k.kept
    JOIN user_home h2 ON t.counterpart_id = h2.user_id
    JOIN home_users k2 ON h2.home_cell = k2.cell_id
) p
GROUP BY cell_id, other_cell"""


LEVEL2 = {"home_users": level2_home_users, "antenna_week": level2_week,
          "antenna_hour": lambda p: level2_hour(), "antenna_pairs": lambda p: level2_pairs()}
LEVEL2_OUTPUTS = ("antenna_week", "antenna_hour", "antenna_pairs")


# ---------------------------------------------------------------- level 3: features per antenna

def level3_alltime() -> str:
    """``f_alltime``: out/in ratios, SMS per call, per-user rates and min-max scaled totals."""
    ratios = [f"{_ratio(num, den)} AS {name}" for name, num, den in RATIOS]
    scaled = [f"CAST(({m} - MIN({m}) OVER ()) AS DOUBLE) / NULLIF(CAST(MAX({m}) OVER () - MIN({m}) OVER () "
              f"AS DOUBLE), 0.0) AS scaled_{m}" for m in METRICS]
    return f"""
SELECT s.cell_id,
  {", ".join(ratios)},
  {_ratio("og_sms + ic_sms", "og_calls + ic_calls")} AS sms_per_call,
  {_ratio("og_calls + ic_calls", "u.home_users")} AS calls_per_user,
  {_ratio("og_sms + ic_sms", "u.home_users")} AS sms_per_user,
  {_ratio("data_sessions", "u.home_users")} AS data_sessions_per_user,
  {", ".join(scaled)}
FROM (SELECT cell_id, {_sum_metrics()} FROM antenna_week GROUP BY cell_id) s
JOIN home_users u ON s.cell_id = u.cell_id"""


def level3_variance() -> str:
    """``f_variance``: sample variance over weeks of the weekly out/in ratios."""
    weekly = [f"{_ratio(f'SUM({num})', f'SUM({den})')} AS {name}" for name, num, den in RATIOS]
    variances = [f"CAST(VAR_SAMP({name}) AS DOUBLE) AS {name}_var" for name, _, _ in RATIOS]
    return f"""
SELECT cell_id, {", ".join(variances)}
FROM (SELECT cell_id, week, {", ".join(weekly)} FROM antenna_week GROUP BY cell_id, week) w
GROUP BY cell_id"""


def level3_daily() -> str:
    """``f_daily``: share of each directed metric that falls on weekends and holidays."""
    shares = []
    for m in DIRECTED:
        weekend = f"SUM(CASE WHEN week_part = 'weekend' THEN {m} ELSE 0 END)"
        shares.append(f"{_ratio(weekend, f'SUM({m})')} AS {m}_weekend_share")
    return f"""
SELECT cell_id, {", ".join(shares)}
FROM antenna_week GROUP BY cell_id"""


def level3_hourly(p: FeatureParams) -> str:
    """``f_hourly``: share in working hours, and morning-peak over evening-peak ratio."""
    metrics = ("og_calls", "ic_calls", "og_sms", "ic_sms")
    work, peak = [], []
    for m in metrics:
        in_work = f"SUM(CASE WHEN {p.work.sql()} THEN {m} ELSE 0 END)"
        morning = f"SUM(CASE WHEN {p.morning_peak.sql()} THEN {m} ELSE 0 END)"
        evening = f"SUM(CASE WHEN {p.evening_peak.sql()} THEN {m} ELSE 0 END)"
        work.append(f"{_ratio(in_work, f'SUM({m})')} AS {m}_work_share")
        peak.append(f"{_ratio(morning, evening)} AS {m}_peak_ratio")
    return f"""
SELECT cell_id, {", ".join(work + peak)}
FROM antenna_hour GROUP BY cell_id"""


def _haversine_km(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    return (f"2.0 * {EARTH_RADIUS_KM} * ASIN(SQRT(POWER(SIN(RADIANS({lat2} - {lat1}) / 2.0), 2) + "
            f"COS(RADIANS({lat1})) * COS(RADIANS({lat2})) * POWER(SIN(RADIANS({lon2} - {lon1}) / 2.0), 2)))")


def level3_interactions() -> str:
    """``f_interactions``: per kind (calls, SMS): mean distance to the contacted users' home
    antennas (km), isolation (share staying within the antenna) and entropy (nats) of the
    contacted antennas (pooled suppressed antennas count as one)."""
    parts = []
    for kind in ("calls", "sms"):
        known = f"CASE WHEN dist_km IS NULL THEN 0 ELSE {kind} END"
        within = f"SUM(CASE WHEN other_cell = cell_id THEN {kind} ELSE 0 END)"
        p = f"CAST({kind} AS DOUBLE) / NULLIF(CAST(total_{kind} AS DOUBLE), 0.0)"
        safe_p = f"CASE WHEN {kind} > 0 THEN {p} ELSE 1.0 END"  # LN(0) never evaluated
        p_log_p = f"CASE WHEN {kind} > 0 THEN {p} * LN({safe_p}) ELSE 0.0 END"
        parts += [
            f"{_ratio(f'SUM({kind} * dist_km)', f'SUM({known})')} AS {kind}_dist_mean_km",
            f"{_ratio(within, f'SUM({kind})')} AS {kind}_isolation",
            f"CASE WHEN SUM({kind}) > 0 THEN 0.0 - SUM({p_log_p}) END AS {kind}_entropy",
        ]
    distance = _haversine_km("a1.lat", "a1.lon", "a2.lat", "a2.lon")
    return f"""
SELECT cell_id, {", ".join(parts)}
FROM (
  SELECT p.cell_id, p.other_cell, p.calls, p.sms,
    SUM(p.calls) OVER (PARTITION BY p.cell_id) AS total_calls,
    SUM(p.sms) OVER (PARTITION BY p.cell_id) AS total_sms,
    CASE WHEN p.other_cell = -1 THEN NULL ELSE {distance} END AS dist_km
  FROM antenna_pairs p
    LEFT JOIN antennas a1 ON p.cell_id = a1.cell_id
    LEFT JOIN antennas a2 ON p.other_cell = a2.cell_id
) d
GROUP BY cell_id"""


LEVEL3 = {"f_alltime": lambda p: level3_alltime(), "f_variance": lambda p: level3_variance(),
          "f_daily": lambda p: level3_daily(), "f_hourly": level3_hourly,
          "f_interactions": lambda p: level3_interactions()}
FEATURE_COLUMNS = {
    "f_alltime": [n for n, _, _ in RATIOS] + ["sms_per_call", "calls_per_user", "sms_per_user",
                                             "data_sessions_per_user"] + [f"scaled_{m}" for m in METRICS],
    "f_variance": [f"{n}_var" for n, _, _ in RATIOS],
    "f_daily": [f"{m}_weekend_share" for m in DIRECTED],
    "f_hourly": [f"{m}_{s}" for s in ("work_share", "peak_ratio")
                 for m in ("og_calls", "ic_calls", "og_sms", "ic_sms")],
    "f_interactions": [f"{k}_{f}" for k in ("calls", "sms")
                       for f in ("dist_mean_km", "isolation", "entropy")],
}


# ---------------------------------------------------------------- level 4: one row per antenna

def level4_features() -> str:
    """``features``: every level-3 feature of each kept antenna, with its position."""
    columns, joins = [], []
    for table, names in FEATURE_COLUMNS.items():
        columns += [f"CAST({table}.{n} AS DOUBLE) AS {n}" for n in names]
        joins.append(f"LEFT JOIN {table} ON u.cell_id = {table}.cell_id")
    return f"""
SELECT u.cell_id, CAST(a.lat AS DOUBLE) AS lat, CAST(a.lon AS DOUBLE) AS lon, u.home_users,
  {", ".join(columns)}
FROM home_users u
  LEFT JOIN antennas a ON u.cell_id = a.cell_id
  {" ".join(joins)}
WHERE u.kept
ORDER BY u.cell_id"""
