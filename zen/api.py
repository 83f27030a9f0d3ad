"""Zen from Python: train, generate, evaluate, load — the functions the ``zen-*`` commands run.

Each call composes the stage's config from the configs shipped in the package (the same
``key=value`` overrides as on the command line), runs the stage and returns an object to work
with in a notebook::

    import zen
    model = zen.train(["model=baseline"], out_dir="runs/base")          # -> zen.Model
    data = zen.generate(model, n_users=500, days=7, seed=1)               # -> zen.Dataset
    data.records.head()                                                   # a pandas DataFrame
    report = zen.evaluate(data)                                           # -> zen.Report
    report.scores["individual/events_per_day/ks"]

The real data is found as on the command line: ``ZEN_DATA`` (or ``paths.data=``), else
``../shared/data`` beside a clone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from zen.io.dataset import Dataset, read_dataset
from zen.io.model_files import read_json
from zen.paths import CONFIG_DIR, missing_data
from zen.schema import ZenInputError


@dataclass(frozen=True)
class Model:
    """A model folder written by ``zen-train`` (what ``zen-generate`` needs, and nothing else).

    Attributes:
        path: the folder.
        info: its ``model.json`` (data source, window, split, metrics, the resolved config).
    """

    path: Path
    info: dict = field(repr=False)

    @property
    def kind(self) -> str:
        return self.info.get("traffic_kind", "?")

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.info.get("metrics", {}))

    def traffic_model(self, device: str = "cpu"):
        """The fitted traffic model (:class:`zen.traffic.TrafficModel`)."""
        from zen.traffic.base import load_traffic_model

        return load_traffic_model(self.path, device)


@dataclass(frozen=True)
class Report:
    """A report folder written by ``zen-evaluate``.

    Attributes:
        path: the folder (``metrics.json``, ``report.md``/``.html``, PNGs, TensorBoard events).
        metrics: the content of ``metrics.json``: ``synthetic`` and ``floor`` scores, ``passed``,
            ``overall_score``, ``pass_count``/``fail_count``, ``inputs``.
    """

    path: Path
    metrics: dict = field(repr=False)

    @property
    def scores(self) -> dict[str, float]:
        return dict(self.metrics.get("synthetic", {}))

    @property
    def floor(self) -> dict[str, float]:
        return dict(self.metrics.get("floor", {}))

    @property
    def failing(self) -> list[str]:
        return sorted(k for k, ok in self.metrics.get("passed", {}).items() if not ok)

    def table(self):
        """Scores beside the real-vs-real floor, one row per metric (a pandas DataFrame)."""
        import pandas as pd

        passed = self.metrics.get("passed", {})
        return pd.DataFrame([{"metric": k, "synthetic": v, "floor": self.floor.get(k),
                              "passed": passed.get(k)} for k, v in self.scores.items()])


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, list | tuple):
        return "[" + ",".join(_value(x) for x in v) + "]"
    return str(v)


def _flatten(settings: dict, prefix: str = "") -> list[str]:
    """``{"tasks": {"privacy": False}}`` -> ``["tasks.privacy=false"]``."""
    out = []
    for k, v in settings.items():
        out += _flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}={_value(v)}"]
    return out


def compose(stage: str, overrides: Sequence[str] = (), **settings) -> DictConfig:
    """The config of ``stage`` (``train``, ``generate``, ``evaluate``, ``features``) as the command
    line would compose it, with Hydra-style ``overrides`` and ``settings`` (``key=value``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    items = list(overrides) + _flatten(settings)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return hydra_compose(config_name=stage, overrides=items)
    finally:
        GlobalHydra.instance().clear()


def _run(fn: Callable[[DictConfig], object], cfg: DictConfig):
    """Run a stage; a missing file under an absent data root says "set ZEN_DATA"."""
    try:
        return fn(cfg)
    except ZenInputError as err:
        better = missing_data(err, OmegaConf.select(cfg, "paths.data", default=None))
        if better is not None:
            raise better from err
        raise


def _run_dir(stage: str, out_dir: str | Path | None) -> Path:
    return Path(out_dir) if out_dir is not None \
        else Path("outputs") / stage / time.strftime("%Y-%m-%d_%H-%M-%S")


def train(overrides: Sequence[str] = (), *, out_dir: str | Path | None = None, **settings) -> Model:
    """Fit Zen on real CDRs (``zen-train``); return the model.

    Args:
        overrides: command-line style overrides, e.g. ``["model=baseline", "data=generic"]``.
        out_dir: the run folder; the model goes to ``<out_dir>/model`` (default
            ``outputs/train/<date_time>``, as the command line).
        **settings: more overrides as keywords (``seed=3``, ``device="cpu"``).
    """
    from zen.stages.train import train as train_stage

    run = _run_dir("train", out_dir)
    cfg = compose("train", [f"paths.output_dir={run.absolute()}", *overrides], **settings)
    _run(train_stage, cfg)
    return load_model(cfg.model_dir)


def generate(model: Model | str | Path, n_users: int = 1000, days: float = 7, *,
             out_dir: str | Path | None = None, overrides: Sequence[str] = (), filesystem=None,
             **settings) -> Dataset:
    """Sample a synthetic dataset from ``model`` (``zen-generate``); return it.

    Args:
        model: a :class:`Model` or a model folder.
        n_users, days: population size and length of the period.
        out_dir: the dataset folder, a URI (``file://``, ``s3://bucket/prefix``, ``gs://``,
            ``hdfs://``), or a path inside ``filesystem`` (default ``<model>/../dataset``).
        filesystem: a ``pyarrow.fs.FileSystem`` that holds ``out_dir`` (None: from ``out_dir``).
        overrides, **settings: any other ``generate.yaml`` key (``seed=1``, ``network="synthetic_city"``).
    """
    from zen.stages.generate import generate as generate_stage

    if filesystem is not None and out_dir is None:
        raise ZenInputError("filesystem= needs out_dir=<the dataset folder inside it>")
    path = model.path if isinstance(model, Model) else Path(model)
    as_given = out_dir is not None and ("://" in str(out_dir) or filesystem is not None)  # not local
    extra = [] if out_dir is None else [f"out_dir={out_dir if as_given else Path(out_dir).absolute()}"]
    cfg = compose("generate", [f"model_dir={path.absolute()}", f"n_users={n_users}", f"days={days}",
                               "progress=false", *extra, *overrides], **settings)
    _run(partial(generate_stage, filesystem=filesystem), cfg)
    return read_dataset(cfg.out_dir, filesystem)


def evaluate(dataset: Dataset | str | Path, real: Dataset | str | Path | None = None, *,
             out_dir: str | Path | None = None, overrides: Sequence[str] = (), **settings) -> Report:
    """Score a synthetic dataset against real CDRs (``zen-evaluate``); return the report.

    Args:
        dataset: a :class:`Dataset` (from :func:`generate` / :func:`load_dataset`) or its folder.
        real: the real users: a split name (``holdout``, ``val``, ``train``, ``all``) of the data
            the model was trained on (default ``holdout``), or a dataset (folder).
        out_dir: the report folder (default ``<dataset>/../report``).
        overrides, **settings: any other ``evaluate.yaml`` key (``tasks.privacy=false``).
    """
    from zen.stages.evaluate import evaluate as evaluate_stage

    def where(d):
        return d.path if isinstance(d, Dataset) else d

    extra = [f"out_dir={Path(out_dir).absolute()}"] if out_dir is not None else []
    if real is not None:
        extra.append(f"real={where(real)}")
    cfg = compose("evaluate", [f"synthetic={Path(where(dataset)).absolute()}", *extra, *overrides],
                  **settings)
    _run(evaluate_stage, cfg)
    return load_report(cfg.out_dir)


def load_model(path: str | Path) -> Model:
    """A model folder written by ``zen-train`` (checked: it has a ``model.json``)."""
    path = Path(path).resolve()
    if not (path / "model.json").exists():
        raise ZenInputError("not a Zen model folder (no model.json); pass the 'model' folder that "
                            "zen-train wrote", str(path))
    return Model(path, read_json(path / "model.json", "model.json"))


def load_dataset(path: str | Path, filesystem=None) -> Dataset:
    """A dataset folder written by ``zen-generate``: ``records`` (pandas, schema ``records``),
    ``antennas``, ``users``, ``edges``, ``manifest``; ``Dataset.to_arrow()`` for pyarrow.

    ``path`` may be a URI (``s3://bucket/zen``) or a path inside ``filesystem`` (``pyarrow.fs``)."""
    local = filesystem is None and "://" not in str(path)
    return read_dataset(Path(path).resolve() if local else path, filesystem)


def load_report(path: str | Path) -> Report:
    """A report folder written by ``zen-evaluate``."""
    path = Path(path).resolve()
    if not (path / "metrics.json").exists():
        raise ZenInputError("not a Zen report folder (no metrics.json)", str(path))
    return Report(path, json.loads((path / "metrics.json").read_text()))
