"""Zen from Python, as in a notebook: train on real CDRs, generate, evaluate, look at the data.

    python examples/quickstart.py [run_folder]      # ~1 min on 2 CPU cores

The real data comes from ``ZEN_DATA`` (or ``../shared/data`` beside a clone of the repository).
Each ``# %%`` block is one notebook cell.
"""

# %% Train: the Poisson baseline on the Copenhagen training users (seconds; drop model=baseline
# for the LSTM, ~1-2 min). Any zen-train override works here.
import sys
from pathlib import Path

import zen

run = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/quickstart")
model = zen.train(["model=baseline", "device=cpu"], out_dir=run / "train")
print(model.kind, model.path, model.info["data"], model.info["days"], "days")

# %% Generate: 300 synthetic users over the model's own window (28 days of Copenhagen), on the
# synthetic city's cells. The result is a Dataset: pandas tables plus the manifest.
data = zen.generate(model, n_users=300, days=model.info["days"], seed=1, network="synthetic_city",
                    device="cpu", out_dir=run / "dataset")
print(data.records.head())
print(data.records.groupby("event", observed=True).size())
table = data.to_arrow()  # a pyarrow.Table, for Polars, DuckDB, Spark...

# %% Evaluate: against the held-out users of the data the model was trained on (from model.json).
report = zen.evaluate(data, out_dir=run / "report", tasks={"usefulness": False, "privacy": False})
print(report.table().head(10))
print("failing:", report.failing)

# %% Load them again later, e.g. in another session.
again = zen.load_dataset(run / "dataset")
assert len(again.records) == len(data.records)
