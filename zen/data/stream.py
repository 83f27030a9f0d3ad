"""Large CDR exports read through DuckDB: only the needed users reach pandas.

The generic loader (:func:`zen.data.generic.load_generic`) picks an engine with
``data.loader.engine``: ``pandas`` reads the whole file into one frame; ``duckdb`` (this module)

1. reads one file, a folder or a glob (CSV with its separator/header/compression, or Parquet),
   projecting only the columns the mapping uses;
2. applies the SQL-expressible row filters (:class:`SqlFilter`, e.g. :func:`period_filter`);
3. gets the distinct user ids, draws the bounded user sample (``users.max``, seeded) and the
   user split (:func:`zen.data.split.split_users`, the same function and ids as the pandas path),
   and keeps the parts asked for (``keep``: e.g. train and val for ``zen-train``);
4. streams the rows of those users only, in Arrow batches in file order, through the generic
   loader's ``where`` filter and mapping step (``map_frame`` + ``validate``): one definition of
   how a raw row maps.

``auto`` picks DuckDB for inputs (a file, a folder or a glob) of ``AUTO_BYTES`` or more on disk,
pandas otherwise. Both engines give identical records and split for the same input.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zen.data.split import UserSplit, split_users
from zen.io.tables import PARQUET_SUFFIXES
from zen.schema import RECORDS, ZenInputError, shown, validate

log = logging.getLogger("zen.data")
ENGINES = ("pandas", "duckdb", "auto")
ENGINE_KEY = "data.loader.engine"
AUTO_BYTES = 64 * 2 ** 20  # auto: DuckDB from 64 MiB on disk (~4M rows of CSV.gz, ~3 GiB in pandas)
BATCH_ROWS = 1_000_000  # rows per Arrow batch through the mapping step
MEMORY_LIMIT = "1GB"  # DuckDB's own working memory; it spills to a temp folder beyond
PARTS = ("train", "val", "holdout")
CSV_OPTIONS = {"sep": "delim", "delimiter": "delim", "quotechar": "quote", "encoding": "encoding",
               "lineterminator": "new_line", "names": "names", "header": "header",
               "dtype": "all_varchar", "compression": "compression"}


@dataclass(frozen=True)
class SqlFilter:
    """A row filter DuckDB evaluates before rows reach pandas.

    Attributes:
        name: the reason, as the drop counts name it (``period``).
        where: SQL condition over the file's columns; rows where it is true are kept.
    """

    name: str
    where: str


def period_filter(column: str, start: str, end: str, fmt: str | None = None) -> SqlFilter:
    """Keep rows whose timestamp text (or value) ``column`` lies in ``[start, end)``.

    Both bounds are in the file's own clock (naive, as the timestamps are written). Rows whose
    timestamp does not parse pass, so that the mapping step names them in its error.
    """
    col = _quote(column)
    ts = f"try_strptime(CAST({col} AS VARCHAR), {_literal(fmt)})" if fmt else f"TRY_CAST({col} AS TIMESTAMP)"
    return SqlFilter("period", f"({ts} IS NULL OR ({ts} >= TIMESTAMP {_literal(start)} "
                               f"AND {ts} < TIMESTAMP {_literal(end)}))")


@dataclass(frozen=True)
class UserChoice:
    """Which users to load: a bounded seeded sample, the split, the parts of it to keep.

    Attributes:
        max_users: load at most this many users (a uniform sample with ``seed``); all when None.
        seed: the sample's seed.
        split: ``split_users`` keyword arguments (``val_fraction``, ``holdout_fraction``, ``seed``).
        keep: the parts of the split to load (``train``, ``val``, ``holdout``); all when None.
    """

    max_users: int | None = None
    seed: int = 0
    split: Mapping | None = None
    keep: tuple[str, ...] | None = None

    @classmethod
    def of(cls, users: Mapping | None, split: Mapping | None, keep: Sequence[str] | None) -> UserChoice:
        users = dict(users or {})
        unknown = set(users) - {"max", "seed"}
        if unknown:
            raise ZenInputError(f"unknown key(s) {sorted(unknown)} in data.loader.users; it takes max "
                                "(a number of users) and seed")
        max_users = users.get("max")
        if max_users is not None and (isinstance(max_users, bool) or not isinstance(max_users, int)
                                      or max_users < 1):
            raise ZenInputError(f"data.loader.users.max={shown(max_users)} must be a whole number >= 1 "
                                "(or null for all users)")
        if keep is not None:
            bad = [k for k in keep if k not in PARTS]
            if bad:
                raise ZenInputError(f"keep={bad} names no part of the split; use {list(PARTS)}")
            if split is None:
                raise ZenInputError("keep needs the split; set data.loader.split (the generic config "
                                    "sets it to ${data.split})")
            keep = tuple(keep) if set(keep) != set(PARTS) else None
        return cls(max_users, int(users.get("seed", 0)), dict(split) if split is not None else None, keep)

    @property
    def selects(self) -> bool:
        """Whether some users are left out (a sample or a part of the split)."""
        return self.max_users is not None or self.keep is not None

    def choose(self, ids: np.ndarray) -> tuple[np.ndarray, UserSplit | None, dict]:
        """The ids to load (sorted), the split of the sample, and what was chosen, stated
        (``observed_ids``: the sample, every part, for what counts as on-network).

        Args:
            ids: every distinct user id of the input (after the filters), int64.
        """
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        sample = ids
        if self.max_users is not None and len(ids) > self.max_users:
            pick = np.random.default_rng(self.seed).choice(len(ids), self.max_users, replace=False)
            sample = np.sort(ids[pick])
        split = split_users(sample, **self.split) if self.split is not None else None
        wanted = sample if self.keep is None else \
            np.sort(np.concatenate([getattr(split, k) for k in self.keep]))
        stated = {"users_in_input": int(len(ids)), "users_sampled": int(len(sample)),
                  "max_users": self.max_users, "sample_seed": self.seed,
                  "parts_loaded": list(self.keep or PARTS), "users_loaded": int(len(wanted)),
                  "observed_ids": sample}
        return wanted, split, stated


def resolve_engine(engine: str | None, path: str | Path, fmt: str | None = None) -> str:
    """``pandas`` or ``duckdb`` for ``engine`` (``auto``: DuckDB when the files the loader would
    read, one file, a folder or a glob, hold ``AUTO_BYTES`` or more on disk)."""
    engine = engine or "pandas"
    if engine not in ENGINES:
        raise ZenInputError(f"{ENGINE_KEY}={shown(engine)} is not one of {list(ENGINES)}")
    if engine != "auto":
        return engine
    size = sum(p.stat().st_size for p in _data_files(path, fmt) if p.is_file())
    return "duckdb" if size >= AUTO_BYTES else "pandas"


def _data_files(path: str | Path, fmt: str | None = None) -> list[Path]:
    """The generic loader's :func:`~zen.data.generic.list_files` (a file, a folder's data files, a
    glob's matches, sorted), with a folder of Parquet parts opened into its parts."""
    from zen.data.generic import list_files

    files = []
    for f in list_files(path, fmt):
        parts = sorted(p for p in f.iterdir() if p.is_file() and p.name.lower().endswith(PARQUET_SUFFIXES)) \
            if f.is_dir() else [f]
        files.extend(parts)
    return files


def input_files(path: str | Path, fmt: str | None = None) -> list[Path]:
    """The files DuckDB reads (:func:`_data_files`), checked: they exist, are not empty, and are
    all CSV or all Parquet."""
    files = _data_files(path, fmt)
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise ZenInputError("file not found; check the path in the config", str(missing[0]))
    kinds = {fmt or _kind(p) for p in files}
    if len(kinds) > 1:
        raise ZenInputError(f"the input mixes CSV and Parquet files ({', '.join(p.name for p in files[:3])}"
                            "...); keep one format per data.loader.path", str(path))
    empty = [p for p in files if p.stat().st_size == 0]
    if empty:
        raise ZenInputError("the file is empty", str(empty[0]))
    return files


def select_frame(records: pd.DataFrame, choice: UserChoice) -> tuple[pd.DataFrame, dict]:
    """The pandas engine's user selection: the same sample and split as the DuckDB engine."""
    wanted, split, stated = choice.choose(records["user_id"].to_numpy())
    if choice.selects:
        records = records[records["user_id"].isin(wanted).to_numpy()].reset_index(drop=True)
    return records, _meta("pandas", split, stated | {"rows_loaded": len(records)})


def load_records(path: str | Path, mapping, options: Mapping, choice: UserChoice,
                 sql_filters: Sequence[SqlFilter] = (), *, where: str | None = None,
                 report=None, fmt: str | None = None) -> tuple[pd.DataFrame, dict]:
    """The records of the chosen users, read and filtered by DuckDB, mapped batch by batch.

    Args:
        path: a file, a folder or a glob of CSV or Parquet files.
        mapping: the generic loader's ``ColumnMapping``.
        options: ``read_options`` (the pandas names: ``sep``, ``header``, ``names``, ...).
        choice: which users to load.
        sql_filters: row filters DuckDB applies first (counted by name in the returned meta).
        where: the generic loader's ``filters.where`` (a pandas condition on the file's columns),
            applied to each batch of the chosen users' rows before the mapping.
        report: the generic loader's :class:`~zen.data.rules.LoadReport` (files, rows read,
            rows ``where`` dropped).
        fmt: ``csv`` or ``parquet`` (``data.loader.format``); from the suffixes when None.

    Returns:
        the records (schema ``records``, file order) and ``meta`` (``split``, ``loading``).

    Raises:
        ZenInputError: one line naming the file, column and the fix.
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc

    from zen.data.generic import _check_mapped_columns

    files = input_files(path, fmt)
    src = str(path)
    if report is not None:
        report.files.extend(str(f) for f in files)
    with tempfile.TemporaryDirectory(prefix="zen-duckdb-") as tmp:
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": tmp,
                                     "preserve_insertion_order": True})
        con.execute("SET enable_progress_bar = false")
        try:
            kind = fmt or _kind(files[0])
            if kind == "csv" and files[0].name.lower().endswith((".tsv", ".tsv.gz")) and "sep" not in options:
                options = {**options, "sep": "\t"}
            sniffed = _source_sql(files, options, kind=kind)
            names = [row[0] for row in _run(con, f"DESCRIBE SELECT * FROM {sniffed}", files).fetchall()]
            _check_mapped_columns(pd.DataFrame(columns=names), mapping, files[0], options)
            source = _source_sql(files, options, _timestamp_columns(mapping), kind)
            columns = _needed_columns(mapping, names)
            sql_where = " AND ".join(f"({f.where})" for f in sql_filters) or "TRUE"
            user_col = _user_column(mapping, names)
            stated: dict = {"files": len(files), "filters": [f.name for f in sql_filters]}
            wanted_raw, split = None, None
            if user_col is not None and (choice.selects or choice.split is not None or sql_filters):
                per_user = _per_user(con, source, user_col, sql_filters, files)
                raw_ids, ids = _user_ids(per_user, user_col, src)
                wanted, split, chosen = choice.choose(ids)
                stated |= chosen | _counts(per_user, sql_filters)
                if choice.selects:
                    wanted_raw = raw_ids.filter(pa.array(np.isin(ids, wanted)))
            select = ", ".join(_quote(c) for c in columns)
            reader = _run(con, f"SELECT {select} FROM {source} WHERE {sql_where}", files) \
                .to_arrow_reader(BATCH_ROWS)
            parts, pending, n_pending = [], [], 0
            for batch in reader:
                if wanted_raw is not None:
                    batch = batch.filter(pc.is_in(batch.column(user_col), value_set=wanted_raw))
                pending.append(batch)
                n_pending += batch.num_rows
                if n_pending >= BATCH_ROWS:
                    parts.append(_map_batch(pending, mapping, src, user_col, where, report))
                    pending, n_pending = [], 0
            if n_pending:
                parts.append(_map_batch(pending, mapping, src, user_col, where, report))
            if report is not None:  # the whole input's rows when they were counted per user
                report.rows_read += stated.get("rows_read", sum(len(part) for part in parts))
        except (duckdb.Error, pa.ArrowException, OSError) as err:  # mid-stream DuckDB errors: OSError
            raise _duckdb_error(err, files) from err
        finally:
            con.close()
    if not parts and not sql_filters and not choice.selects:
        raise ZenInputError("the file has a header but no rows", src)
    if not parts:
        raise ZenInputError("no rows left after the filters and the user selection "
                            f"({', '.join(stated['filters']) or 'no filter'}); check them", src)
    records = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    stated["rows_loaded"] = len(records)
    return records, _meta("duckdb", split, stated)


def _meta(engine: str, split: UserSplit | None, stated: dict) -> dict:
    observed = stated.pop("observed_ids", None)
    meta = {"loading": {"engine": engine, **stated}}
    if observed is not None:
        meta["observed_ids"] = observed
    if split is not None:
        meta["split"] = split
    chosen = "users_loaded" in stated and (stated["max_users"] is not None
                                           or stated["parts_loaded"] != list(PARTS))
    if chosen:
        log.info("loaded %d of %d users (sample of at most %s, seed %d; parts %s), %d rows (engine %s)",
                 stated["users_loaded"], stated["users_in_input"], stated["max_users"],
                 stated["sample_seed"], "+".join(stated["parts_loaded"]), stated["rows_loaded"], engine)
    return meta


def _kind(path: Path) -> str:
    from zen.data.generic import _format_of

    kind = _format_of(path)
    if kind is None:
        raise ZenInputError("unknown file type; name it .csv, .tsv or .parquet (.gz allowed), or set "
                            "data.loader.format=csv or parquet", str(path))
    return kind


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _timestamp_columns(mapping) -> list[str]:
    if mapping.timestamp_columns:
        return list(mapping.timestamp_columns)
    return [mapping.columns["timestamp"]] if "timestamp" in mapping.columns else []


def _source_sql(files: list[Path], options: Mapping, text_columns: Sequence[str] = (),
                kind: str | None = None) -> str:
    """``read_csv(...)``/``read_parquet(...)`` of ``files`` with the pandas-named options;
    ``text_columns`` of a CSV are read as text (timestamps: parsed by the mapping, as with pandas)."""
    listed = "[" + ", ".join(_literal(p) for p in files) + "]"
    if (kind or _kind(files[0])) == "parquet":
        return f"read_parquet({listed}, union_by_name = true)"
    args = {"header": "true", "compression": "'auto'", "delim": "','", "quote": "'\"'"}  # pandas' defaults
    for key, value in options.items():
        if key not in CSV_OPTIONS:
            raise ZenInputError(f"read_options.{key} is a pandas option that {ENGINE_KEY}=duckdb does not "
                                f"take (it takes {sorted(CSV_OPTIONS)}); set {ENGINE_KEY}=pandas")
        arg = CSV_OPTIONS[key]
        if key == "header":
            args[arg] = "false" if value is None else "true"
        elif key == "names":
            args[arg] = "[" + ", ".join(_literal(v) for v in value) + "]"
        elif key == "dtype":
            if value not in ("str", str, "string", "object"):
                raise ZenInputError(f"read_options.dtype={shown(value)}: {ENGINE_KEY}=duckdb takes only "
                                    f"dtype=str; set {ENGINE_KEY}=pandas")
            args[arg] = "true"
        elif value is not None:
            args[arg] = _literal(value)
    if text_columns and "all_varchar" not in args:
        args["types"] = "{" + ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in text_columns) + "}"
    listed_args = ", ".join(f"{k} = {v}" for k, v in args.items())
    return f"read_csv({listed}, {listed_args})"  # no union_by_name: it ran out of memory on 10 x 1e7 rows


def _needed_columns(mapping, names: list[str]) -> list[str]:
    """The file columns the mapping step reads (mapped ones, and schema names used as they are)."""
    used = set(mapping.columns.values()) | set(mapping.timestamp_columns or []) | set(RECORDS.names)
    return [c for c in names if c in used]


def _user_column(mapping, names: list[str]) -> str | None:
    if "user_id" in mapping.constants:
        return None
    col = mapping.columns.get("user_id", "user_id")
    return col if col in names else None


def _per_user(con, source: str, user_col: str, sql_filters: Sequence[SqlFilter], files):
    """Rows kept per distinct user id, and per filter the rows it dropped first (Arrow table)."""
    import duckdb

    kept = " AND ".join(f"({f.where})" for f in sql_filters) or "TRUE"
    drops, before = [], "TRUE"
    for i, f in enumerate(sql_filters):
        drops.append(f", count(*) FILTER (WHERE ({before}) AND NOT coalesce(({f.where}), false)) AS drop_{i}")
        before = f"{before} AND coalesce(({f.where}), false)"
    sql = (f"SELECT {_quote(user_col)} AS u, count(*) FILTER (WHERE coalesce(({kept}), false)) AS kept, "
           f"count(*) AS n{''.join(drops)} FROM {source} GROUP BY ALL")
    try:
        return _run(con, sql, files).to_arrow_table()
    except duckdb.Error as err:
        raise _duckdb_error(err, files) from err


def _user_ids(per_user, user_col: str, src: str):
    """The raw ids of users with kept rows, and the same ids as int64 (the schema's user_id)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = per_user.filter(pc.greater(per_user.column("kept"), 0))
    raw = table.column("u").combine_chunks()
    if raw.null_count:
        raise ZenInputError("empty user id; fill it or drop those rows", src, None, user_col)
    if pa.types.is_integer(raw.type):
        return raw, raw.to_numpy().astype(np.int64)
    num = pd.to_numeric(pd.Series(raw.to_pandas()), errors="coerce")
    bad = num.isna() | (num != np.floor(num))
    if bad.any():
        raise ZenInputError(f"user id {shown(raw[int(np.flatnonzero(bad)[0])].as_py())} is not a whole "
                            "number; map user_id to a numeric id column", src, None, user_col)
    return raw, num.to_numpy().astype(np.int64)


def _counts(per_user, sql_filters: Sequence[SqlFilter]) -> dict:
    """Rows read, kept, and dropped per filter (first filter that drops a row counts it)."""
    import pyarrow.compute as pc

    total = lambda col: int(pc.sum(per_user.column(col)).as_py() or 0)  # noqa: E731
    dropped = {f.name: total(f"drop_{i}") for i, f in enumerate(sql_filters)}
    return {"rows_read": total("n"), "rows_after_filters": total("kept"), "dropped": dropped}


def _map_batch(batches: list, mapping, src: str, user_col: str | None, where: str | None = None,
               report=None) -> pd.DataFrame:
    """Arrow batches through the generic loader's ``where`` filter and mapping step (one definition
    of how a raw row maps); a bad row is named by its user."""
    import pyarrow as pa

    from zen.data.generic import map_frame
    from zen.data.rules import where_mask

    frame = pa.Table.from_batches(batches).to_pandas()
    if where:
        keep = where_mask(frame, where, src)
        if report is not None:
            report.drop("where", int((~keep).sum()))
        frame = frame[keep].reset_index(drop=True)
    try:
        return validate(map_frame(frame, mapping, src), "records", src)
    except ZenInputError as err:
        if err.row is None:
            raise
        bare = str(err).split(": ", 1)[1] if ": " in str(err) else str(err)
        who = f" (a row of user {shown(frame[user_col].iloc[err.row - 1])}; {ENGINE_KEY}=pandas names " \
              "its row number)" if user_col is not None and 0 < err.row <= len(frame) else ""
        raise ZenInputError(bare + who, src, None, err.column) from err


def _run(con, sql: str, files: list[Path]):
    import duckdb

    try:
        return con.sql(sql)
    except duckdb.Error as err:
        raise _duckdb_error(err, files) from err


def _duckdb_error(err: Exception, files: list[Path]) -> ZenInputError:
    """One line for a DuckDB error: the file, the column or line, the fix."""
    text = " ".join(str(err).split())
    first = text.split(" Possible Solution")[0].split(" Original Line")[0].split(" Potential Fixes")[0]
    where = next((str(p) for p in files if str(p) in text), str(files[0]) if len(files) == 1 else
                 f"{files[0].parent} ({len(files)} files)")
    if "Schema mismatch" in text:
        return ZenInputError(f"the files do not have the same columns ({first}); give every file the "
                             "same header", where)
    if "Referenced column" in text or "not found in FROM clause" in text:
        return ZenInputError(f"a filter names a column that is not in the file ({first}); fix the "
                             "filter or the mapping", where)
    if "gzip" in text.lower() or "compress" in text.lower():
        return ZenInputError(f"the file is truncated or not valid gzip ({first}); copy or compress it "
                             "again (gzip -t checks it)", where)
    return ZenInputError(f"cannot read the input ({first}); check read_options (sep, header, quotechar, "
                         f"encoding) or set {ENGINE_KEY}=pandas", where)
