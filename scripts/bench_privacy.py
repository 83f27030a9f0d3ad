"""Differential privacy on Copenhagen (issue 19): fidelity, held-out NLL, attacks and training
time at epsilon in {1, 3, 8, inf}, one table in experiments/privacy.md.

For each epsilon: ``zen-train`` (``trainer.dp.epsilon=<eps>``; inf = the non-private model),
``zen-generate`` (``--n-users`` x ``--days`` on the Milan towers), ``zen-evaluate`` against the
152 held-out users (privacy section: white-box and likelihood-ratio attacks, DCR, distance
MIA, exact copies, empirical epsilon lower bounds), and the held-out NLL per event of the
traffic model.

    nice -n 5 python scripts/bench_privacy.py --out outputs/privacy --eps 1 3 8 inf
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's zen, not an installed one

from zen.data import load_copenhagen, split_users  # noqa: E402
from zen.traffic.lstm import LSTMTrafficModel  # noqa: E402

COPENHAGEN = Path(os.environ.get("ZEN_SHARED_DATA", REPO.parent / "shared" / "data")) / "copenhagen"
ROWS = ["global/inter_event_s/ks", "global/hour_of_day/all/tv", "global/hour_of_week/all/tv",
        "global/call_duration_s/ks", "individual/events_per_day/ks", "individual/inter_event_median_s/ks",
        "individual/night_share/ks", "individual/distinct_contacts/ks", "graph/degree/ks"]
ATTACKS = ["privacy/whitebox_auc", "privacy/whitebox_tpr_at_1fpr", "privacy/whitebox_eps_lower",
           "privacy/lr_auc", "privacy/lr_tpr_at_1fpr", "privacy/lr_eps_lower",
           "privacy/dcr_ratio", "privacy/mia_auc", "privacy/exact_copy_share"]


def run(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", *args], cwd=REPO, check=True)
    return time.perf_counter() - t


def one(out: Path, eps: float, n_users: int, days: float, seed: int, extra: list[str]) -> dict:
    run_dir = out / (f"eps{eps:g}" if math.isfinite(eps) else "eps_inf")
    # seeded noise, so that the table can be reproduced (a released model keeps the default)
    dp = [f"trainer.dp.epsilon={eps}", "trainer.dp.secure_rng=false"] if math.isfinite(eps) else []
    t_train = run(["zen.cli.train", f"hydra.run.dir={run_dir}", f"seed={seed}", *dp, *extra])
    model_dir = run_dir / "model"
    t_gen = run(["zen.cli.generate", f"model_dir={model_dir}", f"n_users={n_users}", f"days={days}",
                 f"seed={seed}", "progress=false", "overwrite=true", f"hydra.run.dir={run_dir}/generate"])
    t_eval = run(["zen.cli.evaluate", f"synthetic={run_dir}/dataset", f"hydra.run.dir={run_dir}/evaluate"])
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())
    record = json.loads((model_dir / "model.json").read_text())
    data = load_copenhagen(COPENHAGEN)
    split = split_users(data.user_ids)
    model = LSTMTrafficModel.load(model_dir / "traffic")
    nll = model.nll_breakdown(data.subset(split.holdout))["total"]  # all heads
    privacy = record["privacy"]
    sgd = next((r for r in privacy.get("releases", []) if r["name"] == "traffic LSTM weights"), None)
    return {"epsilon_target": eps, "epsilon": privacy.get("epsilon", math.inf),
            "delta": privacy.get("delta"), "sigma": sgd["details"]["noise_multiplier"] if sgd else None,
            "steps": record["metrics"].get("steps"), "epochs": record["metrics"].get("epochs"),
            "train_s": t_train, "train_fit_s": record["metrics"].get("time_s"), "generate_s": t_gen,
            "evaluate_s": t_eval, "heldout_nll": nll, "overall": metrics["overall_score"],
            "floor_overall": metrics["floor_overall_score"], "synthetic": metrics["synthetic"],
            "floor": metrics["floor"], "not_private": privacy.get("not_private")}


def fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def table(results: list[dict]) -> str:
    head = "| | floor | " + " | ".join(f"ε = {fmt(r['epsilon_target'], 0)}" for r in results) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(results)]

    def row(name: str, get, floor: str = "") -> None:
        lines.append(f"| {name} | {floor} | " + " | ".join(get(r) for r in results) + " |")

    row("ε spent (accountant + side models)", lambda r: fmt(r["epsilon"], 2))
    row("δ", lambda r: f"{r['delta']:.1e}" if r["delta"] else "–")
    row("noise multiplier σ / steps", lambda r: f"{fmt(r['sigma'], 2)} / {fmt(r['steps'], 0)}"
        if r["sigma"] else f"– / {fmt(r['steps'], 0)}")
    row("**overall score**", lambda r: f"**{fmt(r['overall'])}**", fmt(results[0]["floor_overall"]))
    row("held-out NLL / event (nats)", lambda r: fmt(r["heldout_nll"], 2))
    for name in ROWS:
        row(name, lambda r, n=name: fmt(r["synthetic"].get(n)), fmt(results[0]["floor"].get(name)))
    for name in ATTACKS:
        row(name, lambda r, n=name: fmt(r["synthetic"].get(n)), fmt(results[0]["floor"].get(name)))
    row("zen-train wall time (s)", lambda r: fmt(r["train_s"], 0))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "outputs" / "privacy")
    ap.add_argument("--eps", type=float, nargs="+", default=[1.0, 3.0, 8.0, math.inf])
    ap.add_argument("--n-users", type=int, default=1000)
    ap.add_argument("--days", type=float, default=28.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra", nargs="*", default=[], help="more zen-train overrides, for every run")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for eps in args.eps:
        results.append(one(args.out, eps, args.n_users, args.days, args.seed, args.extra))
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"{dt.date.today()} {platform.machine()} {os.cpu_count()} CPUs, torch CPU\n")
    print(table(results))


if __name__ == "__main__":
    main()
