"""The models ``zen-train`` fits beside the traffic model, each saved in the model folder: the
social graph (``social.json``), the mobility parameters (``mobility.json``, with
``mobility_calibration.json`` when calibrated) and the traffic <-> mobility dependency
(``coupling.json``); and what a differentially private run's ledger says of them."""

from __future__ import annotations

import logging
from pathlib import Path

from zen.data import CDRData, UserSplit
from zen.io import write_json_atomic
from zen.io.model_files import read_json

log = logging.getLogger("zen.train")


def fit_side_models(data: CDRData, split: UserSplit, model_dir: Path, *, seed: int, mobility: dict,
                    shared_data: Path, social_from: dict | None = None,
                    coupling: dict | None = None) -> dict[str, float]:
    """Fit and save the side models on the training users of ``split``; return their metrics.

    Args:
        mobility: the ``mobility`` config (``calibrate``, ``cells``, ...; ``zen.mobility.cdr_calibration``).
        shared_data: the folder of the shared data sets (a GPS calibration reads it).
        social_from: ``{name, loader}`` of data whose social graph is fitted when ``data`` has
            no counterparts (all of its users).
        coupling: the ``coupling`` config (``fit: auto|none``, ``signatures``, ``period_hours``).
    """
    from zen.mobility.cdr_calibration import calibrate_mobility
    from zen.network import fit_social

    metrics: dict[str, float] = {}
    social_data, social_users = data, split.train
    if not (data.records["counterpart_id"] >= 0).any():  # no ties observed: fit another source's graph
        social_data, social_users = _social_source(social_from or {})
        log.info("no counterparts in %s: social graph fitted on data.social_from (%s, all %d users)",
                 data.name, social_data.name, len(social_users))
    observed = social_data.meta.get("observed_ids", social_data.user_ids)  # all splits, loaded or not
    social = fit_social(social_data.records, social_users, social_data.friendships, days=social_data.days,
                        seed=seed, observed_ids=observed)
    social.save(model_dir / "social.json")
    metrics["social/fitted_on_own_data"] = float(social_data is data)
    log.info("social graph fitted on %d users of %s", len(social_users), social_data.name)
    params, report = calibrate_mobility(mobility, shared_data, data, split, seed)
    params.save(model_dir / "mobility.json")
    if report:
        write_json_atomic(report, model_dir / "mobility_calibration.json")
    metrics["mobility/calibrated"] = float(bool(mobility.get("calibrate")))
    metrics.update(fit_coupling(data, split, model_dir, coupling, seed))
    return metrics


def fit_coupling(data: CDRData, split: UserSplit, model_dir: Path, coupling: dict | None,
                 seed: int) -> dict[str, float]:
    """The traffic <-> mobility dependency (``coupling.json``, :mod:`zen.coupling`), fitted on the
    training users when the data has both views (cells with coordinates)."""
    from zen.coupling import CouplingModel
    from zen.measures.individual import has_cells

    c = coupling or {"fit": "none"}
    train = data.subset(split.train)
    if c.get("fit", "auto") == "none" or not has_cells(train.records, train.antennas):
        return {"coupling/fitted": 0.0}
    model = CouplingModel.fit(train.records, train.start, train.days, train.antennas,
                              n_signatures=int(c["signatures"]), period_hours=int(c["period_hours"]),
                              seed=seed)
    model.save(model_dir / "coupling.json")
    log.info("traffic <-> mobility dependency fitted on %d users (%d EM iterations)", len(split.train),
             len(model.history))
    return {"coupling/fitted": 1.0, "coupling/loglik_per_slot": model.history[-1]}


def record_side_models(ledger, model_dir: Path) -> None:
    """Tell a DP run's :class:`~zen.privacy.ledger.PrivacyLedger` how each side model in
    ``model_dir`` was fitted (none of them with noise), and the metrics ``model.json`` keeps."""
    ledger.not_private("social graph (social.json: degree law, reciprocity, clustering, tie "
                       "strengths, off-network share, partner day power)",
                       "fitted on the training users without noise")
    calibration = Path(model_dir) / "mobility_calibration.json"
    if not calibration.exists():
        ledger.public("mobility parameters (mobility.json)", "literature defaults (no data)")
    elif read_json(calibration, "mobility_calibration.json").get("source") == "cells":
        ledger.not_private("mobility calibration (mobility.json)",
                           "fitted on the training users' cell sequences without noise")
    else:
        ledger.not_private("mobility calibration (mobility.json)",
                           "fitted on a GPS sample (not the CDR users) without noise")
    if (Path(model_dir) / "coupling.json").exists():
        ledger.not_private("traffic <-> mobility dependency (coupling.json)",
                           "fitted on the training users' slot states without noise")
    ledger.not_private("metrics in model.json (train/val NLL) and the per-epoch training NLL in "
                       "checkpoints/last_dp.pt", "averages over training / validation users, without noise")


def _social_source(source: dict) -> tuple[CDRData, object]:
    """The data named by ``data.social_from`` (``{name, loader}``) and all of its users."""
    from zen.data import load_dataset

    other = load_dataset(source["name"], **source.get("loader", {}))
    return other, other.user_ids
