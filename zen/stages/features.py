"""Stage ``zen-features``: antenna-level features of a CDR dataset (levels 0-4), local or on Spark."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from zen.features import FeatureParams, compute_features
from zen.features.pipeline import LevelOutput
from zen.io import read_table, write_json_atomic, write_table
from zen.io.dataset import read_dataset
from zen.schema import ZenInputError

log = logging.getLogger("zen")


def _read_input(cfg: DictConfig) -> tuple[pd.DataFrame, pd.DataFrame, str, str, str | None]:
    """Records, antennas, their sources and the data's time zone (a dataset manifest's, else None),
    from ``dataset=`` or from ``records=`` + ``antennas=``."""
    if cfg.get("dataset"):
        data = read_dataset(cfg.dataset)
        records_source = str(Path(cfg.dataset) / "records")
        antennas, antennas_source = data.antennas, str(Path(cfg.dataset) / "antennas.parquet")
        if cfg.get("antennas"):
            antennas, antennas_source = read_table(cfg.antennas), str(cfg.antennas)
        if antennas is None:
            raise ZenInputError("the dataset has no antennas table; pass antennas=<file: cell_id, lat, lon>",
                                str(cfg.dataset))
        return data.records, antennas, records_source, antennas_source, data.manifest.get("timezone")
    if not cfg.get("records") or not cfg.get("antennas"):
        raise ZenInputError("no input: pass dataset=<dataset folder>, or records=<file> and antennas=<file>",
                            column="dataset")
    return read_table(cfg.records), read_table(cfg.antennas), str(cfg.records), str(cfg.antennas), None


def _check_published(output: LevelOutput, params: FeatureParams) -> None:
    """Refuse a result in which k-anonymity suppressed every antenna (nothing would be published)."""
    counts = output.counts
    if counts["antennas_kept"] > 0:
        return
    if counts["antennas_suppressed"] == 0:
        raise ZenInputError(f"no user has a home antenna ({counts['users']} users, "
                            f"{counts['machine_users']} dropped as machines); check the records' "
                            "cell_id, or raise levels.max_events_per_day / levels.max_contacts",
                            column="levels")
    raise ZenInputError(f"every antenna is suppressed: all {counts['antennas_suppressed']} have fewer than "
                        f"levels.min_home_users={params.min_home_users} home users (the most any antenna "
                        f"has is {output.max_home_users}); lower levels.min_home_users or bring more users",
                        column="levels.min_home_users")


def features(cfg: DictConfig) -> dict:
    """Compute the antenna features and write them to ``cfg.out_dir``.

    Writes ``features.parquet`` (one row per antenna with at least ``levels.min_home_users`` home
    users), ``level2/{antenna_week,antenna_hour,antenna_pairs}.parquet`` when ``write_level2``,
    and ``manifest.json`` last. Every file is written atomically; on bad input nothing is written.

    Returns:
        The manifest: engine, counts (users, machine users, antennas kept/suppressed), seconds.
    """
    records, antennas, records_source, antennas_source, timezone = _read_input(cfg)
    params = FeatureParams.from_config(cfg.levels)
    if cfg.levels.get("timezone") is None and timezone and not params.utc_offset_hours:
        params = replace(params, timezone=str(timezone))  # the dataset's clock, as zen-evaluate reads it
    engine_options = OmegaConf.to_container(cfg[cfg.engine], resolve=True) if cfg.engine in cfg else {}
    started = time.perf_counter()
    output = compute_features(records, antennas, params, engine=cfg.engine, work_dir=cfg.get("work_dir"),
                              keep_intermediate=bool(cfg.keep_intermediate), engine_options=engine_options,
                              records_source=records_source, antennas_source=antennas_source)
    seconds = time.perf_counter() - started
    _check_published(output, params)
    out_dir = Path(cfg.out_dir)
    files = {"features": write_table(output.features, out_dir / "features.parquet")}
    if cfg.get("write_level2", True):
        for name, table in output.level2.items():
            files[name] = write_table(table, out_dir / "level2" / f"{name}.parquet")
    manifest = {
        "engine": cfg.engine,
        "input": {"dataset": cfg.get("dataset"), "records": records_source, "antennas": antennas_source},
        "levels": OmegaConf.to_container(cfg.levels, resolve=True),
        "timezone": params.timezone,
        "rows": {"records": len(records), "antennas": len(output.features)},
        "counts": output.counts,
        "seconds": round(seconds, 3),
        "seconds_by_step": {k: round(v, 3) for k, v in output.seconds.items()},
        "files": {k: str(Path(v).relative_to(out_dir)) for k, v in files.items()},
        "intermediate": str(output.work_dir) if output.work_dir else None,
    }
    write_json_atomic(manifest, out_dir / "manifest.json")
    log.info("features of %d antennas (%d suppressed) -> %s in %.1f s", output.counts["antennas_kept"],
             output.counts["antennas_suppressed"], out_dir, seconds)
    return manifest
