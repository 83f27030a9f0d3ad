"""One phase of one generator in its own process, so that its time and peak memory are its own.

Started by ``scripts/run_peers.py``; not meant to be run by hand. The peers (DGAN, PAR) run under
the peers environment's Python (``scripts/peers_env.sh``) and only exchange plain files with the
comparison: ``.npz`` arrays for DGAN, Parquet frames for PAR. Zen's traffic models run under the
project's Python. Each call prints one JSON line: ``{"seconds": ..., "peak_rss_mib": ...}``.

    python scripts/peer_worker.py fit dgan WORK_DIR '{"epochs": 400, ...}'
    python scripts/peer_worker.py sample dgan WORK_DIR '{"n": 1000, "out": "sample-1000"}'

The peers take no seed argument; this process seeds torch's and numpy's global generators with
``seed`` before it fits or samples (they live and die with this process).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_mib() -> float:
    """Peak resident memory of this process since it started (MiB).

    ``VmHWM`` of this process's own address space: ``ru_maxrss`` is no good here, because Linux
    carries the parent's high-water mark over ``exec`` into the child's.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # elsewhere; KiB as on Linux


def _seed_process(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(2)


def fit_dgan(work: Path, cfg: dict) -> dict:
    import numpy as np
    from gretel_synthetics.timeseries_dgan.config import DGANConfig, OutputType
    from gretel_synthetics.timeseries_dgan.dgan import DGAN

    data = np.load(work / "dgan_train.npz")
    features, attributes = data["features"], data["attributes"]
    discrete = set(data["discrete"].tolist())
    names = data["names"].tolist()
    feature_types = [OutputType.DISCRETE if n in discrete else OutputType.CONTINUOUS for n in names]
    model = DGAN(DGANConfig(max_sequence_len=features.shape[1], sample_len=cfg["sample_len"],
                            batch_size=cfg.get("batch_size", 1024), epochs=cfg["epochs"], cuda=False))
    model.train_numpy(features=features, feature_types=feature_types, attributes=attributes,
                      attribute_types=[OutputType.DISCRETE])
    model.save(str(work / "dgan.pt"))
    return {"examples": int(len(features))}


def sample_dgan(work: Path, cfg: dict) -> dict:
    import numpy as np
    from gretel_synthetics.timeseries_dgan.dgan import DGAN

    # torch >= 2.6 loads weights only by default; the file holds DGAN's output specs too (ours).
    model = DGAN.load(str(work / "dgan.pt"), weights_only=False)
    attributes, features = model.generate_numpy(cfg["windows"])
    np.savez(work / f"{cfg['out']}.npz", features=np.asarray(features, np.float32),
             attributes=np.asarray(attributes, np.float32))
    return {"windows": int(cfg["windows"])}


def fit_par(work: Path, cfg: dict) -> dict:
    import pandas as pd
    from sdv.metadata import Metadata
    from sdv.sequential import PARSynthesizer

    frame = pd.read_parquet(work / "par_train.parquet")
    if cfg.get("max_events"):  # the tuning pass: each user's first max_events events only
        frame = frame.groupby("user_id", sort=False).head(cfg["max_events"]).reset_index(drop=True)
    metadata = Metadata.load_from_dict(json.loads((work / "par_metadata.json").read_text()))
    model = PARSynthesizer(metadata, context_columns=["activity"], epochs=cfg["epochs"], cuda=False,
                           verbose=False)
    model.fit({"records": frame})
    model.save(str(work / "par.pkl"))
    return {"sequences": int(frame["user_id"].nunique())}


def sample_par(work: Path, cfg: dict) -> dict:
    from sdv.utils import load_synthesizer

    model = load_synthesizer(str(work / "par.pkl"))
    sampled = model.sample_sequences(num_sequences=cfg["n"])
    frame = next(iter(sampled.values())) if isinstance(sampled, dict) else sampled
    frame.to_parquet(work / f"{cfg['out']}.parquet")
    return {"rows": int(len(frame))}


def fit_zen(work: Path, cfg: dict) -> dict:
    import torch

    from zen.data import load_copenhagen, split_users
    from zen.traffic.base import resolve_kind

    data = load_copenhagen(cfg["data"])
    split = split_users(data.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    model = resolve_kind(cfg["kind"])(**cfg.get("model", {}))
    metrics = model.fit(data.subset(split.train), data.subset(split.val), trainer=cfg.get("trainer", {}),
                        work_dir=work / f"zen-{cfg['kind']}-work", device=torch.device("cpu"),
                        seed=cfg["seed"])
    model.save(work / f"zen-{cfg['kind']}")
    return {k: float(v) for k, v in (metrics or {}).items()}


def sample_zen(work: Path, cfg: dict) -> dict:
    import pandas as pd

    from zen.traffic.base import resolve_kind

    model = resolve_kind(cfg["kind"]).load(work / f"zen-{cfg['kind']}")
    start = pd.Timestamp(cfg["start"])
    timelines = model.sample(cfg["n"], cfg["days"], start, seed=cfg["seed"])
    timelines.to_records(start).to_parquet(work / f"{cfg['out']}.parquet")
    return {"rows": int(len(timelines))}


PHASES = {("fit", "dgan"): fit_dgan, ("sample", "dgan"): sample_dgan, ("fit", "par"): fit_par,
          ("sample", "par"): sample_par, ("fit", "zen"): fit_zen, ("sample", "zen"): sample_zen}


def main(argv: list[str]) -> None:
    phase, peer, work, cfg = argv[0], argv[1], Path(argv[2]), json.loads(argv[3])
    _seed_process(cfg.get("seed", 0))
    t0 = time.perf_counter()
    info = PHASES[phase, peer](work, cfg)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib(), **info}))


if __name__ == "__main__":
    main(sys.argv[1:])
