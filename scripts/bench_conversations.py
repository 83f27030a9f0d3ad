"""Conversations in the assembled dataset: Zen's rows of the *conversations* issue, beside the floor.

For each training seed: train the default LSTM on the Copenhagen training users on whole
timelines (``conversations=all``, the default) and, for the ``starter`` column, on each user's
starter view (``conversations=starter``); generate ``--users`` users for each of ``--days`` with
the assemblies of ``--setups`` in the same run (``SETUPS``: the default, ``pairing=starter`` with
the partner choice of ``zen.network.partners``, the night-assortative graph, the start-backs of
``zen.network.startbacks`` and the hand-over of ``zen.network.starters``; the start-backs alone;
the previous default (``assort``: neither); earlier defaults and options, each with neither
(``partners``: no night assortativity,
``assort-max``, the per-user night propensity of ``zen.traffic.night`` (its own model,
``model.night_propensity=true``), ``partners=pair``, ``partners=hour``, the traffic model's ties,
``conversation``, starter views, ``half``; the generation seed's own noise), and score every dataset against
the held-out real users. The floor is the same statistic between the real training and
held-out users. Writes a markdown table (``--table``) and the raw numbers as JSON.

    nice -n 5 python scripts/bench_conversations.py --seeds 0 1 2 --days 28 91 \\
        --out outputs/conversations --table experiments/conversations_table.md

Models and datasets already under ``--out`` are reused (delete the folder to start afresh).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's zen, not an installed one

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zen.api import compose  # noqa: E402
from zen.data import load_copenhagen  # noqa: E402
from zen.data.split import UserSplit, split_users  # noqa: E402
from zen.evaluation.fidelity import fidelity_scores  # noqa: E402
from zen.evaluation.sample import CDRSample  # noqa: E402
from zen.io import write_json_atomic  # noqa: E402
from zen.io.dataset import read_dataset  # noqa: E402

COPENHAGEN = Path(os.environ.get("ZEN_DATA") or REPO.parent / "shared" / "data") / "copenhagen"
ROWS = [  # (label, score key, goal as a multiple of the floor)
    ("inter-event time KS (all events)", "global/inter_event_s/ks"),
    ("per-user median inter-event time KS", "individual/inter_event_median_s/ks"),
    ("per-user burstiness KS", "individual/burstiness/ks"),
    ("per-user night share KS", "individual/night_share/ks"),
    ("reciprocity abs. diff", "graph/reciprocity/abs_diff"),
    ("events / user / day KS", "individual/events_per_day/ks"),
    ("reply delay KS", "conversation/reply_delay_s/ks"),
    ("turns per conversation KS", "conversation/turns/ks"),
    ("per-user share of conversations started KS", "conversation/starter_share/ks"),
]
MODELS = {  # model folder name: zen-train overrides (the view the traffic model learns, and the clock)
    "all": ["conversations=all", "model.night_propensity=false"],
    "starter": ["conversations=starter", "model.night_propensity=false"],
    "all-night": ["conversations=all", "model.night_propensity=true"],
}
NEITHER = ["startbacks=none", "starters=none", "turns=none"]  # before start-backs, hand-over, turns
SETUPS = {  # name: (model folder name, pairing, partners[, more zen-generate overrides])
    "default": ("all", "starter", "auto", []),
    "noturns": ("all", "starter", "auto", ["turns=none"]),
    "chain": ("all", "starter", "auto", ["turns=chain"]),
    "startbacks": ("all", "starter", "auto", ["startbacks=auto", "starters=none", "turns=none"]),
    "assort": ("all", "starter", "auto", ["night_assortativity=fit", *NEITHER]),
    "partners": ("all", "starter", "auto", ["night_assortativity=null", *NEITHER]),
    "assort-max": ("all", "starter", "auto", ["night_assortativity=1.0", *NEITHER]),
    # the generation seed's own noise: the default and the previous one with another run seed
    "default-gen1": ("all", "starter", "auto", ["seed=1"]),
    "assort-gen1": ("all", "starter", "auto", ["night_assortativity=fit", *NEITHER, "seed=1"]),
    "default-gen2": ("all", "starter", "auto", ["seed=2"]),
    "assort-gen2": ("all", "starter", "auto", ["night_assortativity=fit", *NEITHER, "seed=2"]),
    "night": ("all-night", "starter", "auto", NEITHER),
    "pair": ("all", "starter", "pair", NEITHER),
    "hour": ("all", "starter", "hour", NEITHER),
    "all-starter": ("all", "starter", "tie", NEITHER),
    "conversation": ("all", "conversation", "tie", ["turns=none"]),
    "starter": ("starter", "starter", "tie", NEITHER),
    "half": ("all", "half", "tie", ["turns=none"]),
}
DEFAULT = "default"
COLUMNS = {"default": "the default: fitted pauses, start-backs and hand-over (turns=pauses)",
           "noturns": "the previous default: start-backs and hand-over, the LSTM's turns (turns=none)",
           "chain": "the chain of turns after each first event (turns=chain)",
           "startbacks": "start-backs only (starters=none, turns=none)",
           "assort": "before start-backs (startbacks=none, starters=none, turns=none)",
           "partners": "the default before night assortativity (night_assortativity=null, startbacks=none)",
           "assort-max": "the most night-assortative graph (night_assortativity=1, startbacks=none)",
           "default-gen1": "the default, run seed 1",
           "assort-gen1": "the previous default, run seed 1",
           "default-gen2": "the default, run seed 2",
           "assort-gen2": "the previous default, run seed 2",
           "night": "the previous default + per-user night propensity (model.night_propensity=true)",
           "pair": "the previous default with the pair-level partner choice (partners=pair)",
           "hour": "the previous default with the hour-level partner choice (partners=hour)",
           "all-starter": "whole timelines + pairing=starter, the model's ties",
           "conversation": "whole timelines + pairing=conversation",
           "starter": "starter views + pairing=starter",
           "half": "whole timelines + pairing=half"}


def train_model(out: Path, seed: int, name: str) -> tuple[Path, float]:
    from zen.stages.train import train

    model_dir = out / f"seed{seed}" / f"model-{name}"
    if (model_dir / "model.json").exists():
        return model_dir, float("nan")
    t = time.perf_counter()
    train(compose("train", [f"model_dir={model_dir}", f"seed={seed}", "device=cpu", *MODELS[name],
                            f"data.loader.path={COPENHAGEN}", "trainer.eval_every=0"]))
    return model_dir, time.perf_counter() - t


def generate_dataset(model_dir: Path, out: Path, n_users: int, days: float,
                     pairing: str, partners: str, more: tuple = ()) -> tuple[Path, float]:
    from zen.stages.generate import generate

    if (out / "manifest.json").exists():
        return out, float(read_dataset(out).manifest["timings_s"].get("total", float("nan")))
    t = time.perf_counter()
    generate(compose("generate", [f"model_dir={model_dir}", f"out_dir={out}", f"n_users={n_users}",
                                  f"days={days}", f"pairing={pairing}", f"partners={partners}",
                                  "network=synthetic_city", *more,
                                  "progress=false", "device=cpu"]))
    return out, time.perf_counter() - t


def weekly_rates(records: pd.DataFrame, start: pd.Timestamp, n_users: int, days: float) -> list[float]:
    """Events per user per day in each whole week of the window."""
    week = ((records["timestamp"] - start).dt.total_seconds() // (7 * 86400)).astype(int)
    counts = records.groupby(week).size()
    return [float(counts.get(w, 0)) / n_users / 7 for w in range(int(days // 7))]


def trend_per_week(rates: list[float]) -> float:
    """Least-squares slope of the weekly rates from week 2 on, as a share of their mean per week."""
    y = np.asarray(rates[1:])
    if len(y) < 3:
        return float("nan")
    return float(np.polyfit(np.arange(len(y)), y, 1)[0] / y.mean())


NIGHT = "individual/night_share/ks"
WINDOWED = (NIGHT, "individual/burstiness/ks")  # per-user rows that depend on the window's length


def score(dataset: Path, real: CDRSample) -> dict:
    """The ``ROWS`` scores against ``real``, the weekly rates, and for a dataset longer than the
    real window the ``WINDOWED`` scores of each of its whole windows of ``real.days`` days
    (``windows``: {key: [first, second, ...]}, the same count noise and span per user as the
    real users', beside the unchanged rows)."""
    ds = read_dataset(dataset)
    sample = CDRSample(ds.records, ds.start, ds.days, None, "synthetic")
    scores, _ = fidelity_scores(sample, real)
    windows = {key: [] for key in WINDOWED}
    for k in range(int(ds.days // real.days) if ds.days > real.days else 0):
        begin = ds.start + pd.Timedelta(days=k * real.days)
        cut = ds.records[(ds.records["timestamp"] >= begin)
                         & (ds.records["timestamp"] < begin + pd.Timedelta(days=real.days))]
        part = fidelity_scores(CDRSample(cut, begin, real.days, None, "synthetic"), real)[0]
        for key in WINDOWED:
            windows[key].append(part[key])
    weeks = weekly_rates(ds.records, ds.start, int(ds.manifest["n_users"]), ds.days)
    from zen.network.startbacks import startback_share

    startbacks = startback_share(ds.records)
    return {"scores": {key: scores.get(key, float("nan")) for _, key in ROWS}, "weekly": weeks,
            "startback_share": startbacks,
            "windows": windows,
            "week1_over_week2": weeks[0] / weeks[1] if len(weeks) > 1 else float("nan"),
            "trend_per_week": trend_per_week(weeks)}


def decorrelated_real(data, split: UserSplit, shift_days: int, seed: int = 0) -> dict:
    """The real users' own timelines put together the way Zen puts synthetic ones together.

    Every user's starter view (the conversations they started, see zen.measures.conversations)
    is shifted by a random whole number of ``shift_days`` (circularly inside the window, so the
    hour of day and, for 7, the day of week are kept), then each user's records are their own
    shifted view plus the mirror of the views that others started with them. Nothing is
    sampled: only the timing between users is broken, as it is between independently sampled
    users. Scored against the held-out users, this is the best any sampler that draws each user
    on their own can do.
    """
    from zen.assembly import mirror_on_network
    from zen.measures.conversations import started_by_user
    from zen.network.startbacks import startback_share

    ids = np.sort(data.user_ids)
    index = pd.Series(np.arange(len(ids)), index=ids)
    views = data.records[started_by_user(data.records)]
    rng = np.random.default_rng(seed)
    window = data.days * 86400.0
    offset = rng.integers(0, int(data.days // shift_days), len(ids)) * shift_days * 86400.0
    user = index[views["user_id"]].to_numpy()
    t = (views["timestamp"] - data.start).dt.total_seconds().to_numpy() + offset[user]
    on = views["counterpart_id"].isin(ids).to_numpy()
    shifted = views.assign(user_id=user, timestamp=data.start + pd.to_timedelta(t % window, unit="s"),
                           counterpart_id=np.where(on, index.reindex(views["counterpart_id"]).fillna(-1)
                                                   .to_numpy(np.int64), views["counterpart_id"]))
    both = pd.concat([shifted, mirror_on_network(shifted, len(ids))], ignore_index=True)
    startbacks = startback_share(both)
    both = both[both["user_id"].isin(index[split.holdout].to_numpy())]
    both = both.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    real = CDRSample(data.subset(split.holdout).records, data.start, data.days, None, "holdout")
    scores, _ = fidelity_scores(CDRSample(both, data.start, data.days, None, "decorrelated"), real)
    return {**{key: scores.get(key, float("nan")) for _, key in ROWS}, "startback_share": startbacks}


def fmt(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return "n/a"
    lo, hi, mean = min(values), max(values), float(np.mean(values))
    return f"{mean:.{digits}f}" if len(values) == 1 or hi - lo < 0.5 * 10**-digits \
        else f"{mean:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


STARTBACK_LABEL = "share of a both-way pair's conversations within a day of one by the partner"


def table(results: dict, floor: dict, real_weekly: list[float], ceiling: dict, args,
          real_startbacks: float = float("nan")) -> str:
    lines = ["Ceiling of independent sampling (the real users' own starter views, each user shifted by "
             "whole weeks / whole days, then put together as Zen does; see `decorrelated_real`):", "",
             "| statistic | floor | real, shifted by weeks | × floor | real, shifted by days | × floor |",
             "|---|---|---|---|---|---|"]
    for label, key in ROWS:
        f = floor[key]
        lines.append(f"| {label} | {f:.3f} | {ceiling[7][key]:.3f} | {ceiling[7][key] / f:.1f} | "
                     f"{ceiling[1][key]:.3f} | {ceiling[1][key] / f:.1f} |")
    lines += [f"| {STARTBACK_LABEL} (zen.network.startbacks) | real {real_startbacks:.3f} | "
              f"{ceiling[7]['startback_share']:.3f} | – | {ceiling[1]['startback_share']:.3f} | – |", ""]
    for days in args.days:
        runs = {p: [results[f"{s}/{days}/{p}"] for s in args.seeds] for p in args.setups}
        lines += [f"### {args.users:,} users × {days:g} days, {len(args.seeds)} training seeds "
                  f"(mean, range)", "",
                  "| statistic of the assembled dataset | floor | goal (1.5× floor) | "
                  + " | ".join(f"{COLUMNS[p]} | × floor" for p in args.setups) + " |",
                  "|---|---|---|" + "---|---|" * len(args.setups)]
        for label, key in ROWS:
            f = floor[key]
            cells = []
            for p in args.setups:
                values = [r["scores"][key] for r in runs[p]]
                cells.append(f"{fmt(values)} | {np.mean(values) / f:.1f}")
            lines.append(f"| {label} | {f:.3f} | {1.5 * f:.3f} | " + " | ".join(cells) + " |")
            if key in WINDOWED and days > 28:
                cells = []
                for p in args.setups:
                    values = [np.mean(r["windows"][key]) for r in runs[p]]
                    cells.append(f"{fmt(values)} | {np.mean(values) / f:.1f}")
                lines.append(f"| ↳ same, each whole 28 days of the {days:g} (mean; the real window's span "
                             f"and count noise) | {f:.3f} | {1.5 * f:.3f} | " + " | ".join(cells) + " |")
        for name, key in (("week 1 / week 2 events", "week1_over_week2"),
                          ("trend of weekly events from week 2 (share of mean per week)", "trend_per_week")):
            real = {"week1_over_week2": real_weekly[0] / real_weekly[1],
                    "trend_per_week": trend_per_week(real_weekly)}[key]
            cells = [f"{fmt([r[key] for r in runs[p]])} | –" for p in args.setups]
            lines.append(f"| {name} | real {real:.3f} | – | " + " | ".join(cells) + " |")
        cells = [f"{fmt([r.get('startback_share', float('nan')) for r in runs[p]])} | –" for p in args.setups]
        lines.append(f"| {STARTBACK_LABEL} | real {real_startbacks:.3f} | – | " + " | ".join(cells) + " |")
        weekly = np.mean([r["weekly"] for r in runs[args.setups[0]]], axis=0)
        lines += ["", f"Weekly events/user/day, {COLUMNS[args.setups[0]]} (mean over seeds): "
                  + ", ".join(f"{w:.2f}" for w in weekly)
                  + f"; the real users' 4 weeks: {', '.join(f'{w:.2f}' for w in real_weekly)}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    parser.add_argument("--users", type=int, default=1000, help="synthetic users per dataset")
    parser.add_argument("--days", type=float, nargs="+", default=[28.0, 91.0], help="days per dataset")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "conversations")
    parser.add_argument("--table", type=Path, help="write the markdown table here")
    parser.add_argument("--setups", nargs="+", choices=list(SETUPS), default=list(SETUPS),
                        help="assembly rules to compare (the first gives the weekly line)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    data = load_copenhagen(COPENHAGEN)
    results, timings = {}, {}
    for seed in args.seeds:
        models = {}
        for name in sorted({SETUPS[p][0] for p in args.setups} | {"all"}):
            models[name], timings[f"train/{seed}/{name}"] = train_model(args.out, seed, name)
        power = json.loads((models["all"] / "social.json").read_text())["partner_day_power"]
        results[f"{seed}/partner_day_power"] = power
        print(f"seed {seed}: fitted partner_day_power {power:.3f}", flush=True)
        social = json.loads((models["all"] / "social.json").read_text())
        for key in ("night_assortativity", "partner_hour_day_power", "partner_hour_power"):
            results[f"{seed}/{key}"] = social[key]
        results[f"{seed}/startback_share"] = (social.get("startbacks") or {}).get("share", float("nan"))
        print(f"seed {seed}: fitted night_assortativity {social['night_assortativity']:.3f} on "
              f"{social['night_assortativity_ties']} ties, start-back share "
              f"{results[f'{seed}/startback_share']:.3f}", flush=True)
        config = json.loads((models["all"] / "model.json").read_text())["config"]
        split = split_users(data.user_ids, **config["data"]["split"])  # the model folder keeps no ids
        real = CDRSample(data.subset(split.holdout).records, data.start, data.days, None, "holdout")
        if seed == args.seeds[0]:
            train = CDRSample(data.subset(split.train).records, data.start, data.days, None, "train")
            floor_scores, _ = fidelity_scores(train, real)
            floor = {key: floor_scores.get(key, float("nan")) for _, key in ROWS}
        for days in args.days:
            for setup in args.setups:
                view, pairing, partners, *more = SETUPS[setup]
                name = f"{seed}/{days:g}/{setup}"
                path, timings[f"generate/{name}"] = generate_dataset(
                    models[view], args.out / f"seed{seed}" / f"d{days:g}-{setup}", args.users, days, pairing,
                    partners, *more)
                results[f"{seed}/{days}/{setup}"] = score(path, real)
                print(name, {k.split("/")[-2]: round(v, 3) for k, v in results[f"{seed}/{days}/{setup}"]
                             ["scores"].items()}, flush=True)
    real_weekly = weekly_rates(data.records, data.start, len(data.user_ids), data.days)
    ceiling = {shift: decorrelated_real(data, split, shift) for shift in (7, 1)}
    from zen.network.startbacks import startback_share

    real_startbacks = startback_share(data.records)
    text = table(results, floor, real_weekly, ceiling, args, real_startbacks)
    print(text)
    write_json_atomic({"results": results, "floor": floor, "ceiling": ceiling, "real_weekly": real_weekly,
                       "real_startback_share": real_startbacks,
                       "timings_s": timings,
                       "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                       "date": time.strftime("%Y-%m-%d")}, args.out / "results.json")
    if args.table:
        args.table.write_text(text + "\n")


if __name__ == "__main__":
    main()
