"""The ``zen-evaluate`` stage: fidelity, usefulness and privacy of a synthetic dataset, with the
real-vs-real floor computed in the same run, written as a report folder.
"""

from __future__ import annotations

import json
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
from zen.evaluation.mobility import density_maps, mobility_ccdfs, mobility_scores
from zen.evaluation.privacy import likelihood_ratio_scores, membership_audit, privacy_scores
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
from zen.stages.common import check_window, with_model_data

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


def _figures(cfg: DictConfig, synthetic: CDRData, real: CDRData, train: CDRData,
             scores: dict, useful: dict | None, private: dict | None) -> dict:
    figures = {"individual_cdfs": plots.individual_cdfs(synthetic, real, train),
               "hourly_profiles": plots.hourly_profiles(synthetic, real, train),
               "global_distributions": plots.global_distributions(synthetic, real, train)}
    if synthetic.has_cells and real.has_cells:
        figures["cell_density_maps"] = density_maps([real, synthetic, train])
        figures["cell_mobility_ccdfs"] = mobility_ccdfs([real, synthetic, train])
    if useful is not None:
        figures["usefulness"] = plots.usefulness(useful, scores, list(cfg.usefulness.ran_thresholds),
                                                 synthetic.label, real.label)
    if private is not None:
        figures["privacy"] = plots.privacy(private, synthetic.label, real.label)
    return figures


def _model_record(synthetic: CDRData) -> tuple[Path | None, dict]:
    """The model folder the synthetic dataset was generated from (its manifest's config) and
    its ``model.json`` (empty when not found)."""
    try:
        manifest = json.loads((Path(synthetic.meta["path"]) / "manifest.json").read_text())
        model_dir = Path(manifest["config"]["model_dir"])
        return model_dir, json.loads((model_dir / "model.json").read_text())
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        return None, {}


def _attacks(synthetic: CDRData, train: CDRData, real: CDRData, reference: CDRData | None,
             scores: dict, floor: dict, skipped: dict) -> dict:
    """Issue 19's audits, beside the accountant's epsilon: the white-box attack (the model's own
    per-user likelihood, training vs held-out users; floor: validation vs held-out users, both
    unseen), the likelihood-ratio attack on the synthetic data (attacker's shadow population:
    the validation users) and the empirical epsilon lower bound of each. Returns what the
    report shows of the model's formal guarantee."""
    model_dir, record = _model_record(synthetic)
    dp = record.get("privacy") or {"private": False}
    n_train = train.n_users
    delta = float(dp["delta"]) if dp.get("private") else 1.0 / (10 * n_train)
    if dp.get("private"):  # a non-private model has no (epsilon, delta): the report says so
        scores["privacy/epsilon"], scores["privacy/delta"] = float(dp["epsilon"]), delta
    if record.get("traffic_kind") == "lstm":
        from zen.traffic.lstm import LSTMTrafficModel

        model = LSTMTrafficModel.load(model_dir / "traffic")

        def nll(s: CDRData):
            return model.nll_per_user(s)
        nll_train, nll_real = nll(train), nll(real)
        scores.update(membership_audit(-nll_train, -nll_real, delta, "whitebox"))
        if reference is not None:
            floor.update(membership_audit(-nll(reference), -nll_real, delta, "whitebox"))
    else:
        skipped["privacy/whitebox"] = ("white-box attack needs the LSTM's model folder "
                                       f"(found {model_dir}, kind {record.get('traffic_kind')})")
    if reference is not None:
        member, nonmember = likelihood_ratio_scores(synthetic, reference, train, [train, real])
        scores.update(membership_audit(member, nonmember, delta, "lr"))
        skipped["privacy/lr floor"] = ("the likelihood-ratio attack's floor is not defined: its "
                                       "shadow population is the floor's reference users")
    else:
        skipped["privacy/lr"] = "no real reference users (privacy_floor) for the likelihood-ratio attack"
    keep = ("private", "epsilon", "delta", "unit", "not_private", "covers_everything")
    out = {k: dp[k] for k in keep if k in dp}
    sgd = next((r for r in dp.get("releases", []) if r["name"] == "traffic LSTM weights"), None)
    if sgd is not None:
        out["accountant"] = sgd["details"].get("accountant")
        out["noise_multiplier"] = sgd["details"].get("noise_multiplier")
    return out


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
    cfg = with_model_data(cfg, read_json(Path(str(cfg.synthetic)) / "manifest.json", "the manifest"))
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
        dp_record = _attacks(synthetic, train, real, reference, scores, floor, skipped)
    inputs = {"synthetic": str(cfg.synthetic), "real": str(cfg.real), "train": str(cfg.train),
              "privacy_floor": cfg.privacy_floor, "seed": int(cfg.seed),
              "users": {s.label: s.n_users for s in (synthetic, real, train)},
              "privacy": dp_record if cfg.tasks.privacy else None,
              "days": {s.label: s.days for s in (synthetic, real, train)},
              "data": cfg.data.name, "window_mismatch": window}
    figures = _figures(cfg, synthetic, real, train, scores, useful, private)
    ev = Evaluation(scores, floor, skipped, Thresholds(**cfg.thresholds), inputs, figures)
    document = write_report(ev, out_dir)
    for fig in ev.figures.values():
        plt.close(fig)
    print(terminal_table(ev, summary_rows(ev)))
    return {**scores, "overall_score": document["overall_score"],
            "floor_overall_score": document["floor_overall_score"]}
