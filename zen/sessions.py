"""XDR data sessions: a service, a volume and a duration for every ``data`` record.

The session-level models of 30 mobile services published by Zanella, Bazco-Nogueras, Ziemlicki
and Fiore ("Characterizing and Modeling Session-Level Mobile Traffic Demands from Large-Scale
Measurements", ACM IMC 2023; coefficients in ``../shared/data/mobile_traffic_dists``), fitted on
a French operator's production network:

* the service of a session is drawn with the services' shares of all sessions;
* its volume: ``log10(bytes)`` follows the service's Gaussian mixture — a main component of
  weight 1 plus up to three narrow peaks of weights ``w_k`` (normalised together);
* its duration inverts the service's volume law ``bytes = a * duration^b`` (seconds), capped at
  ``max_duration_s`` (the paper warns that the right tail of the volume mixture gives absurd
  durations through the power law otherwise), and floored at a millisecond (the same laws give
  1e-40 s to the smallest sessions). Durations stay fractional: many published laws
  put small sessions below a second (e.g. Apple iCloud, SnapChat), as transport-layer flows
  are. (WhatsApp's published exponent is negative — its bigger sessions are shorter — and is
  inverted as published, so most of its sessions reach the cap.)

How sessions map onto CDRs: the published sessions are transport-layer sessions, and Zen writes
each ``data`` record as one of them (an XDR row: one flow of one service), so an app use that
opens several flows is several records. The traffic model decides *when* a user has a data
session; this module decides *what* it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zen.io import read_table
from zen.schema import ZenInputError

MAX_DURATION_S = 3600.0  # cap on a session's duration (the paper's advice)
MIN_DURATION_S = 0.001  # floor: the inverted laws of tiny sessions reach 1e-40 s otherwise
PEAKS = 3  # narrow mixture components besides the main one, at most


@dataclass(frozen=True)
class SessionModel:
    """Per-service session laws (arrays ``[services]`` unless stated).

    Attributes:
        services: service names.
        share: probability that a session is of each service (sums to 1).
        means, stds, weights: ``[services, 1 + PEAKS]`` log10-bytes mixture (weights sum to 1
            per service; absent peaks have weight 0).
        a, b: volume law ``bytes = a * duration_s ** b``.
        max_duration_s: duration cap (seconds).
    """

    services: tuple[str, ...]
    share: np.ndarray
    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray
    a: np.ndarray
    b: np.ndarray
    max_duration_s: float = MAX_DURATION_S

    @classmethod
    def load(cls, folder: str | Path, max_duration_s: float = MAX_DURATION_S) -> SessionModel:
        """Read ``sessions_share.csv``, ``pdf_coefs.csv`` and ``duration_coefs.csv`` from ``folder``."""
        folder = Path(folder)
        share = read_table(folder / "sessions_share.csv").set_index("app")["sessions%"].astype(float)
        pdf = read_table(folder / "pdf_coefs.csv", na_values=["-"]).set_index("app")
        law = read_table(folder / "duration_coefs.csv").set_index("app")
        services = tuple(share.index)
        missing = [s for s in services if s not in pdf.index or s not in law.index]
        if missing:
            raise ZenInputError(f"service {missing[0]!r} has no volume or duration coefficients",
                                str(folder))
        pdf, law = pdf.loc[list(services)], law.loc[list(services)]
        means = np.column_stack([pdf["u_g"]] + [pdf[f"u_{k}"] for k in range(PEAKS)]).astype(float)
        stds = np.column_stack([pdf["s_g"]] + [pdf[f"s_{k}"] for k in range(PEAKS)]).astype(float)
        weights = np.column_stack([np.ones(len(pdf))] + [pdf[f"w_{k}"] for k in range(PEAKS)]).astype(float)
        absent = ~np.isfinite(means) | ~np.isfinite(stds) | ~np.isfinite(weights)
        weights[absent], means[absent], stds[absent] = 0.0, 0.0, 1.0
        if (stds <= 0).any() or (law["a"].to_numpy() <= 0).any() or (law["b"].to_numpy() == 0).any():
            raise ZenInputError("a non-positive spread or volume-law factor, or a zero exponent",
                                str(folder))
        return cls(services, (share / share.sum()).to_numpy(), means, stds,
                   weights / weights.sum(axis=1, keepdims=True), law["a"].to_numpy(float),
                   law["b"].to_numpy(float), float(max_duration_s))

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` sessions: service index ``[n]`` int64, bytes ``[n]`` int64 (>= 1), duration ``[n]``
        float32 seconds in ``[MIN_DURATION_S, max_duration_s]``."""
        service = rng.choice(len(self.services), size=n, p=self.share)
        cum = np.cumsum(self.weights[service], axis=1)
        component = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), cum.shape[1] - 1)
        log_bytes = rng.normal(self.means[service, component], self.stds[service, component])
        volume = np.maximum(np.rint(10.0 ** np.minimum(log_bytes, 15.0)), 1.0)
        duration = (volume / self.a[service]) ** (1.0 / self.b[service])
        duration = np.clip(duration, MIN_DURATION_S, self.max_duration_s)
        return service.astype(np.int64), volume.astype(np.int64), duration.astype(np.float32)

    def log10_bytes_sample(self, service: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of log10(bytes) from one service's published mixture (reference samples)."""
        component = rng.choice(self.weights.shape[1], size=n, p=self.weights[service])
        return rng.normal(self.means[service, component], self.stds[service, component])


def add_sessions(records: pd.DataFrame, model: SessionModel, rng: np.random.Generator) -> pd.DataFrame:
    """``records`` with a ``service`` column (NA except for data) and, for every ``data`` record,
    a service, ``volume_bytes`` and ``duration_s`` drawn from ``model``."""
    records = records.copy()
    is_data = (records["event"].astype(str) == "data").to_numpy()
    service, volume, duration = model.sample(int(is_data.sum()), rng)
    names = np.full(len(records), None, dtype=object)
    names[is_data] = np.asarray(model.services, dtype=object)[service]
    records["service"] = pd.Categorical(names, categories=list(model.services))
    records.loc[is_data, "volume_bytes"] = volume
    records.loc[is_data, "duration_s"] = duration
    return records
