"""The ``zen-evaluate`` stage: fidelity, usefulness and privacy of a synthetic dataset, with the
real-vs-real floor computed in the same run, written as a report folder.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
from omegaconf import DictConfig, OmegaConf

from zen.data import load_dataset, split_users
from zen.data.base import CDRData
from zen.data.local_time import local_clock, to_local_clock
from zen.evaluation import plots
from zen.evaluation.coupling import coupling_scores
from zen.evaluation.fidelity import fidelity_scores
from zen.evaluation.mobility import mobility_scores
from zen.evaluation.privacy import model_audits, privacy_scores
from zen.evaluation.report import (
    Evaluation,
    Thresholds,
    check_report_dir,
    summary_rows,
    terminal_table,
    write_report,
)
from zen.evaluation.usefulness import usefulness_scores
from zen.io.dataset import read_dataset
from zen.io.model_files import read_json
from zen.schema import ZenInputError
from zen.stages.common import check_window, model_record, with_model_data

SPLITS = ("train", "val", "holdout", "all")


def _from_folder(path: str, label: str) -> CDRData:
    folder = Path(path)
    if not folder.is_dir():
        raise ZenInputError("dataset folder not found; pass the 'dataset' folder that zen-generate wrote",
                            str(folder))
    ds = read_dataset(folder)
    tz = str(ds.manifest.get("timezone") or "UTC")  # measures read the users' wall clock
    return replace(ds, records=ds.records.assign(timestamp=to_local_clock(ds.records["timestamp"], tz)),
                   start=to_local_clock(ds.start, tz), name=label, meta={"path": str(folder)})


class _RealData:
    """The real source of ``cfg.data`` and its user split, loaded once and only when needed."""

    def __init__(self, cfg: DictConfig):
        self.cfg, self._data, self._split = cfg, None, None

    def sample(self, which: str, role: str) -> CDRData:
        """Users of the split ``which`` of ``cfg.data``, or of the dataset folder ``which`` (as ``role``)."""
        if which not in SPLITS:
            return _from_folder(which, role)
        if self._data is None:
            data = self.cfg.data
            self._data = local_clock(load_dataset(data.name, **OmegaConf.to_container(data.loader,
                                                                                      resolve=True)))
            self._split = self._data.meta.get("split") or \
                split_users(self._data.user_ids, **OmegaConf.to_container(data.split, resolve=True))
            expected = self.cfg.get("model_split_sha256")
            if expected and self._split.digest() != expected:
                print("zen-evaluate: WARNING: the real users' split is not the one the model was trained "
                      "with (the data or its config changed): held-out users may include training users",
                      file=sys.stderr)
        ids = self._data.user_ids if which == "all" else getattr(self._split, which)
        meta = {"source": self.cfg.data.name, "split": which}
        return replace(self._data.subset(ids), name=which, meta=meta)


def _non_empty(sample: CDRData, role: str) -> CDRData:
    if len(sample.records) == 0:
        raise ZenInputError(f"the {role} users ({sample.label}) have no records; check the data split")
    return sample


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Compare ``cfg.synthetic`` with the real users ``cfg.real`` and write the report to ``cfg.out_dir``.

    Returns:
        The synthetic data's scores (metric name -> value), plus ``overall_score`` and
        ``floor_overall_score``.
    """
    if OmegaConf.is_missing(cfg, "synthetic"):
        raise ZenInputError("synthetic=<dataset folder> is required (the folder zen-generate wrote)")
    out_dir = check_report_dir(Path(cfg.out_dir))  # refuse before the work, not after it
    synthetic = _non_empty(_from_folder(str(cfg.synthetic), "synthetic"), "synthetic")
    model_dir, record = model_record(read_json(Path(str(cfg.synthetic)) / "manifest.json", "the manifest"))
    cfg = with_model_data(cfg, record)
    source = _RealData(cfg)
    real = _non_empty(source.sample(str(cfg.real), "real"), "real")
    window = check_window(synthetic.days, real.days, real.label, str(cfg.window_mismatch))
    train = _non_empty(source.sample(str(cfg.train), "train"), "training")
    scores, skipped = fidelity_scores(synthetic, real)
    floor, _ = fidelity_scores(train, real)
    more, why = mobility_scores(synthetic, real)  # cell-level measures (zen.evaluation.mobility)
    scores.update(more)
    skipped.update(why)
    floor.update(mobility_scores(train, real)[0])
    more, why = coupling_scores(synthetic, real)  # traffic x mobility per user (zen.evaluation.coupling)
    scores.update(more)
    skipped.update(why)
    floor.update(coupling_scores(train, real)[0])
    useful = private = dp_record = None
    if cfg.tasks.usefulness:
        u = cfg.usefulness
        args = (list(u.ran_thresholds), float(u.anomaly_rate), float(u.z_threshold), int(cfg.seed))
        more, useful = usefulness_scores(synthetic, real, train, *args)
        scores.update(more)
        floor.update(usefulness_scores(train, real, train, *args)[0])
        if useful["unit_kind"] == "group":
            skipped["usefulness/per_cell"] = ("no cells on both sides: tasks run per traffic group "
                                              f"({', '.join(useful['units'])}) instead of per cell")
    if cfg.tasks.privacy:
        more, private = privacy_scores(synthetic, train, real)
        scores.update(more)
        reference = source.sample(str(cfg.privacy_floor), "privacy_floor") if cfg.privacy_floor else None
        if reference is not None and len(reference.records):
            floor.update(privacy_scores(reference, train, real)[0])
        else:
            skipped["privacy/floor"] = "no real reference users (privacy_floor) to compute the floor"
            reference = None
        more, more_floor, why, dp_record = model_audits(synthetic, train, real, reference, model_dir, record)
        scores.update(more)
        floor.update(more_floor)
        skipped.update(why)
    inputs = {"synthetic": str(cfg.synthetic), "real": str(cfg.real), "train": str(cfg.train),
              "privacy_floor": cfg.privacy_floor, "seed": int(cfg.seed),
              "users": {s.label: s.n_users for s in (synthetic, real, train)},
              "privacy": dp_record if cfg.tasks.privacy else None,
              "days": {s.label: s.days for s in (synthetic, real, train)},
              "data": cfg.data.name, "window_mismatch": window}
    figures = plots.report_figures(synthetic, real, train, scores, useful, private,
                                   list(cfg.usefulness.ran_thresholds))
    ev = Evaluation(scores, floor, skipped, Thresholds(**cfg.thresholds), inputs, figures)
    document = write_report(ev, out_dir)
    for fig in ev.figures.values():
        plt.close(fig)
    print(terminal_table(ev, summary_rows(ev)))
    return {**scores, "overall_score": document["overall_score"],
            "floor_overall_score": document["floor_overall_score"]}
