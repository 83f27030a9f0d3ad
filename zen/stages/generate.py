"""``zen-generate``: sample a complete synthetic CDR dataset from a trained model folder.

The stage checks the settings, hands them to the library's driver
(:func:`zen.generation.generate_dataset`: population, shard steps, resume, manifest) and prints
the summary. What the steps do is told in :mod:`zen.generation.pipeline`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from zen.checks import config_number, require
from zen.generation import GenerationSpec, generate_dataset
from zen.io.storage import shown
from zen.schema import ZenInputError
from zen.stages.common import shared_data_dir


def generate(cfg: DictConfig, filesystem=None) -> dict[str, float]:
    """Write the dataset described by ``cfg`` and return a summary (row counts, timings).

    ``filesystem``: a ``pyarrow.fs.FileSystem`` that holds ``cfg.out_dir`` (the Python API's;
    None: a local path or a URI, ``s3://...``)."""
    spec = _check_args(cfg)
    limit = config_number(cfg, "memory_limit_gb", float, above=0) if cfg.memory_limit_gb else None
    summary = generate_dataset(
        spec, cfg.model_dir, cfg.out_dir, OmegaConf.to_container(cfg.network, resolve=True),
        shared_data_dir(cfg), overwrite=bool(cfg.overwrite), memory_check=bool(cfg.memory_check),
        memory_limit_gb=limit, torch_threads=cfg.torch_threads, settings=_resolved_settings(cfg),
        progress=bool(cfg.progress), sessions=cfg.sessions, workers=cfg.workers,
        executor=str(cfg.get("executor", "local")), ray_address=cfg.get("ray_address"),
        ray_gpus=cfg.get("ray_gpus", "auto"), filesystem=filesystem)
    where = str(cfg.out_dir)  # a URI, or a path inside filesystem, as given
    _print_summary(summary, shown(where) if "://" in where or filesystem else Path(where).resolve(), spec)
    return summary


def _check_args(cfg: DictConfig) -> GenerationSpec:
    require(cfg, "model_dir", "zen-generate model_dir=<the 'model' folder that zen-train wrote>")
    if not (Path(cfg.model_dir) / "model.json").exists():
        raise ZenInputError("not a Zen model folder (no model.json); pass model_dir=<the 'model' "
                            "folder that zen-train wrote>", str(cfg.model_dir))
    return GenerationSpec.from_settings(cfg)


def _resolved_settings(cfg: DictConfig) -> dict:
    """The run's settings, resolved (Hydra's own runtime paths left out)."""
    settings = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
                for k, v in cfg.items() if k not in ("paths", "hydra")}
    return {**settings, "out_dir": shown(cfg.out_dir)}  # a URI's access keys stay out of the manifest


def _print_summary(summary: dict, out_dir: Path | str, spec: GenerationSpec) -> None:
    total = summary["time/total"]
    if spec.mode == "mobility":
        print(f"zen-generate: {summary['stays']:,} stays of {spec.n_users:,} users x {spec.days:g} days "
              f"written to {out_dir}")
        print(f"  {spec.n_users * spec.days / max(summary['time/mobility'], 1e-9):,.0f} agent-days/s in the "
              f"emulator; {total:.1f} s in all")
        return
    print(f"zen-generate: dataset written to {out_dir}")
    print(f"  users {summary['users']:,}   records {summary['records']:,}   "
          f"per user per day {summary['records_per_user_day']:.2f}   "
          f"{summary['records'] / total:,.0f} records/s in {total:.1f} s")
    kinds = {k.split('/', 1)[1]: v for k, v in summary.items() if k.startswith("records/")}
    print("  " + "   ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    parts = [k for k in summary if k.startswith("time/") and k != "time/total"]
    print("  time: " + ", ".join(f"{k[5:]} {summary[k]:.1f} s" for k in parts))
