"""Long-horizon drift, per-user clock and event kinds of the default LSTM (experiments/traffic_drift.md).

Trains ``configs/model/lstm.yaml`` with ``configs/trainer/default.yaml`` on the Copenhagen training
users (project split: ``split_users(ids, 0.15, 0.25, seed=0)``), samples 1,000 new users x 91 days
from the study start and prints, as one JSON line per run and a Markdown row:

* weekly events/user/day over the 13 weeks (beside the real data's 4 weeks), week 1 / week 2,
  the least-squares slope of weeks 2-13 relative to their mean;
* realised / profile rate: events/user/day over the 91 days divided by the mean of the sampled
  profiles' activity (``sample_activity``, the draw passed to ``sample``);
* per-user night share (00-06 h UTC) KS, inter-event time KS and hour-of-day JSD of the first
  28 days vs the 152 held-out users, beside the floor (training users vs held-out users);
* held-out NLL per event (nats) and the share of sampled SMS in a calls-only fit (``--calls-only``).

    PYTHONPATH=. nice -n 5 python scripts/bench_traffic_drift.py --seeds 0,1   # ~1.5 min per seed, 2-core VM
    PYTHONPATH=. python scripts/bench_traffic_drift.py --set drift_anchor=false  # an ablation
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from zen.data import load_copenhagen, split_users
from zen.evaluation.metrics import hour_of_day_profile, inter_event_times, js_divergence, ks_statistic
from zen.traffic.lstm import LSTMTrafficModel

REPO = Path(__file__).resolve().parents[1]
WEEK_S = 7 * 86400.0


def model_config(name: str) -> dict:
    cfg = yaml.safe_load((REPO / "zen" / "configs" / "model" / f"{name}.yaml").read_text())
    base = {}
    for parent in cfg.pop("defaults", []) or []:
        if parent != "_self_":
            base.update(model_config(parent))
    return {**base, **cfg}


def night_share(records: pd.DataFrame) -> np.ndarray:
    """Per-user share of events at 00-06 h UTC (users with at least one event). ``[users]``."""
    night = records["timestamp"].dt.hour < 6
    return night.groupby(records["user_id"]).mean().to_numpy()


def weekly_rates(t_s: np.ndarray, n_users: int, weeks: int) -> list[float]:
    counts = np.bincount(np.floor(t_s / WEEK_S).astype(np.int64), minlength=weeks)[:weeks]
    return (counts / n_users / 7.0).tolist()


def first_days(records: pd.DataFrame, start: pd.Timestamp, days: float) -> pd.DataFrame:
    return records[records["timestamp"] < start + pd.Timedelta(days=days)]


def parse_value(text: str):
    return yaml.safe_load(text)


def run(seed: int, data, train, val, hold, overrides: dict, n_users: int, days: float, work: Path) -> dict:
    cfg = {k: v for k, v in model_config("lstm").items() if k != "kind"}
    cfg.update(overrides)
    trainer = yaml.safe_load((REPO / "zen" / "configs" / "trainer" / "default.yaml").read_text())
    trainer["eval_every"] = 0
    model = LSTMTrafficModel(**cfg)
    t0 = time.perf_counter()
    fit = model.fit(train, val, trainer=trainer, work_dir=work / f"seed{seed}" / "model",
                    device=torch.device("cpu"), seed=seed)
    fit_s = time.perf_counter() - t0
    model.save(work / f"seed{seed}" / "traffic")
    nll = model.nll_breakdown(hold)["total"]  # all heads
    activity = model.sample_activity(n_users, np.random.default_rng(seed + 100))
    t0 = time.perf_counter()
    tl = model.sample(n_users, days, data.start, seed=seed + 1, activity=activity)
    sample_s = time.perf_counter() - t0
    weeks = int(days // 7)
    rates = weekly_rates(tl.t_s, n_users, weeks)
    w = np.arange(1, weeks)
    slope = float(np.polyfit(w, rates[1:], 1)[0] / np.mean(rates[1:]))
    rec = first_days(tl.to_records(data.start), data.start, data.days)
    return {
        "seed": seed, "overrides": overrides, "fit_s": fit_s, "sample_s": sample_s, "epochs": fit["epochs"],
        "holdout_nll": nll, "weekly": rates, "week1_over_week2": rates[0] / rates[1],
        "slope_w2_13_per_week": slope,
        "realised_over_profile": len(tl) / n_users / days / float(activity.mean()),
        "profile_mean_activity": float(activity.mean()),
        "ks_night_share": ks_statistic(night_share(hold.records), night_share(rec)),
        "ks_inter_event": ks_statistic(inter_event_times(hold.records), inter_event_times(rec)),
        "jsd_hour_of_day": js_divergence(hour_of_day_profile(hold.records), hour_of_day_profile(rec)),
        "sms_share": float(np.mean(tl.event == 1)), "data_share": float(np.mean(tl.event == 2)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "copenhagen"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--days", type=float, default=91.0)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="model config overrides")
    ap.add_argument("--calls-only", action="store_true", help="train on calls only (no SMS)")
    ap.add_argument("--work", default="outputs/bench_traffic_drift")
    args = ap.parse_args()
    torch.set_num_threads(1)
    overrides = {k: parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    data = load_copenhagen(args.data, include_sms=not args.calls_only)
    split = split_users(data.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    train, val, hold = (data.subset(u) for u in (split.train, split.val, split.holdout))
    real_weeks = weekly_rates((data.records["timestamp"] - data.start).dt.total_seconds().to_numpy(),
                              len(data.user_ids), int(data.days // 7))
    floor = {"ks_night_share": ks_statistic(night_share(hold.records), night_share(train.records)),
             "ks_inter_event": ks_statistic(inter_event_times(hold.records),
                                            inter_event_times(train.records)),
             "jsd_hour_of_day": js_divergence(hour_of_day_profile(hold.records),
                                              hour_of_day_profile(train.records))}
    print(json.dumps({"host": f"{platform.machine()} {platform.processor()}, {torch.__version__}, 1 thread",
                      "date": datetime.date.today().isoformat(), "real_weekly": real_weeks,
                      "real_mean": float(np.mean(real_weeks)), "floor": floor}))
    for seed in (int(s) for s in args.seeds.split(",")):
        r = run(seed, data, train, val, hold, overrides, args.users, args.days, Path(args.work))
        print(json.dumps(r))
        print(f"| {seed} | {r['holdout_nll']:.3f} | " + " ".join(f"{x:.2f}" for x in r["weekly"])
              + f" | {r['week1_over_week2']:.2f} | {r['slope_w2_13_per_week']:+.3f} | "
              f"{r['realised_over_profile']:.2f} | {r['ks_night_share']:.3f} | {r['ks_inter_event']:.3f} | "
              f"{r['jsd_hour_of_day']:.4f} | {r['sample_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
