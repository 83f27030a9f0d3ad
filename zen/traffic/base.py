"""What every traffic model offers the stages, and how a saved one is found again.

A traffic model is fitted by ``zen-train`` and saved into ``<model_dir>/traffic/`` together with
a ``kind.txt`` naming its class, so that ``zen-generate`` rebuilds it from the folder alone.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import torch

from zen.data.base import CDRData
from zen.schema import ZenInputError
from zen.traffic.timeline import Timelines

KINDS = {
    "baseline": "zen.traffic.baseline:PoissonBaseline",
    "lstm": "zen.traffic.lstm:LSTMTrafficModel",
}


@runtime_checkable
class TrafficModel(Protocol):
    """The type the generation pipeline and the stages take; both kinds in :data:`KINDS` conform
    (``tests/test_traffic_protocol.py``)."""

    kind: str

    def fit(self, train: CDRData, val: CDRData | None, *, trainer: dict[str, Any],
            work_dir: Path, device: torch.device, seed: int,
            resume: bool = False) -> dict[str, float]:
        """Fit on the training users; return final scalar metrics (e.g. ``val/nll``).

        ``train/nll`` and ``val/nll`` are the model's own training objective (the LSTM's sums all
        its heads): compare models with :meth:`nll_per_event`, not with these.
        """

    def save(self, traffic_dir: Path) -> None:
        """Write everything needed to sample into ``traffic_dir`` (no data needed later)."""

    @classmethod
    def load(cls, traffic_dir: Path, device: torch.device | str = "cpu") -> TrafficModel:
        """Rebuild the model from ``traffic_dir``."""

    def sample(self, n_users: int, days: float, start: pd.Timestamp, seed: int,
               device: torch.device | str = "cpu", activity: np.ndarray | None = None) -> Timelines:
        """Sample ``n_users`` new users' events over ``days`` days from ``start`` (UTC)."""

    def sample_activity(self, n_users: int, rng: np.random.Generator) -> np.ndarray:
        """Expected events per day of ``n_users`` new users, drawn from the fitted population.

        The assembler uses it to give active users more ties; ``sample`` must accept the same
        draw through the ``activity`` argument so that the two agree. Shape ``[n_users]``.

        A kind with a per-user clock may also have ``night_tendency(n_users, seed, activity)``:
        each new user's expected night share as ``sample`` with the same arguments draws it
        (``LSTMTrafficModel.night_tendency``); the social graph uses it to tie users of like
        night activity (``night_assortativity``, ``zen.network.social``).
        """

    def nll_per_event(self, data: CDRData, device: torch.device | str = "cpu") -> float:
        """Mean NLL per event (nats) of ``data``'s event times and event type x direction marks.

        The same quantity for every kind, so it compares models: the point-process density of
        each event time (in seconds, with the survival term to the window end) plus the
        probability of its type x direction, each user conditioned on the profile computed from
        their own records. Durations, call outcomes and counterparts are not in it.
        """


def resolve_kind(kind: str) -> type:
    if kind not in KINDS:
        raise ZenInputError(f"unknown traffic model kind {kind!r}; known: {sorted(KINDS)}")
    module, name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def save_traffic_model(model: TrafficModel, model_dir: Path) -> Path:
    traffic_dir = Path(model_dir) / "traffic"
    traffic_dir.mkdir(parents=True, exist_ok=True)
    model.save(traffic_dir)
    (traffic_dir / "kind.txt").write_text(model.kind + "\n")
    return traffic_dir


def load_traffic_model(model_dir: Path, device: torch.device | str = "cpu") -> TrafficModel:
    """Load the traffic model saved by ``zen-train`` in ``model_dir``."""
    kind_file = Path(model_dir) / "traffic" / "kind.txt"
    if not kind_file.exists():
        raise ZenInputError("not a Zen model folder (no traffic/kind.txt); pass the 'model' "
                            "folder that zen-train wrote", str(model_dir))
    return resolve_kind(kind_file.read_text().strip()).load(kind_file.parent, device=device)
