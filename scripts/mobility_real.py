"""Real mobility on Hangzhou: held-out users vs the calibrated emulator, the literature defaults and
the real-vs-real floor, on every cell-level measure. Writes experiments/mobility_real.{md,json,png}.

    nice -n 5 python scripts/mobility_real.py [--seeds 0 1 2] [--floor-splits 8] [--max-evals 60]

For each seed: a seeded split of the 130 users (78 train / 20 val / 32 held out); the emulator is
fitted on the training users' cell sequences (zen.mobility.cdr_calibration), once with the serving
process independent of the user's events (before) and once with the activity-aware one (after:
``activity=True``, the keep table by gap and burst); synthetic users (as
many as training users, so they compare with held-out users exactly as the floor's training users
do) are simulated on the real cells and observed at the training users' event times — the real
sampling process. The floor is training vs held-out real users, over --floor-splits splits.

``--explore`` adds the activity-aware fit with activity-dependent mobility (``explore_activity``
fitted: heavy users move and explore more) as its own column. ``--handover`` adds a third fit,
the activity-aware law with the handover distance law
(``handover=True``), as its own column; ``--skip-before`` leaves the "before" fit out (then the
results go to experiments/mobility_real_handover.{json,png}, or with --explore and not --handover
experiments/mobility_real_explore.{json,png}, leaving the main table's files alone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from zen.data import split_users
from zen.evaluation.fidelity import _cell_hour_counts
from zen.evaluation.metrics import ks_statistic
from zen.evaluation.mobility import mobility_ccdfs, mobility_scores
from zen.evaluation.sample import CDRSample
from zen.mobility import MobilityParams
from zen.mobility.cdr_calibration import (
    CELL_FITTED,
    CELL_FITTED_ACTIVITY,
    CellEvents,
    CellSimulator,
    fit_cell_sequences,
)
from zen.network.coverage import Coverage
from zen.network.places import site_places

REPO = Path(__file__).resolve().parents[1]
ROWS = ["individual/radius_of_gyration_m/ks", "individual/distinct_cells/ks", "individual/cell_entropy/ks",
        "cells/top_cell_share/ks", "cells/jump_length_m/ks", "cells/dwell_time_s/ks",
        "cells/distinct_cells_per_week/ks", "cells/away_share_by_hour/mean_abs_diff",
        "cells/events_per_cell_hour/ks", "cells/cluster_density/tv", "cells/od_flows/tv"]
GAP_EDGES = [0, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, np.inf]  # the gap table of mobility_real.md


def change_by_gap(ev: CellEvents) -> list[float]:
    """Share of consecutive events of a user in another cell, per gap bin of :data:`GAP_EDGES`."""
    same = ev.user[1:] == ev.user[:-1]
    gap, changed = np.diff(ev.t_s)[same], (ev.cell[1:] != ev.cell[:-1])[same]
    b = np.digitize(gap, GAP_EDGES[1:-1])
    return [float(changed[b == k].mean()) if (b == k).any() else float("nan")
            for k in range(len(GAP_EDGES) - 1)]


def load():
    sys.path.insert(0, str(REPO))
    from tests.conftest import compose_config
    from zen.stages.common import load_real

    cfg = compose_config("train", ["data=hangzhou"])
    return load_real(cfg.data)[0]


def scores(candidate: CDRSample, real: CDRSample) -> dict[str, float]:
    out, _ = mobility_scores(candidate, real)
    fa, fb = candidate.features, real.features
    for name in ("radius_of_gyration_m", "distinct_cells", "cell_entropy"):
        out[f"individual/{name}/ks"] = ks_statistic(fa[name].dropna(), fb[name].dropna())
    out["cells/events_per_cell_hour/ks"] = ks_statistic(_cell_hour_counts(candidate)[0],
                                                        _cell_hour_counts(real)[0])
    return out


BANDS = [0, 30, 80, 200, 10_000]  # events per user
FIT_KEY = {"calibrated": "fits", "activity": "fits_activity", "explore": "fits_explore",
           "handover": "fits_handover"}


def distinct_by_activity(ev: CellEvents) -> list[float]:
    """Median distinct cells of the users in each band of :data:`BANDS` events per user."""
    per = pd.DataFrame({"u": ev.user, "c": ev.cell}).groupby("u")["c"].agg(["size", "nunique"])
    band = pd.cut(per["size"], BANDS)
    return per.groupby(band, observed=False)["nunique"].median().astype(float).tolist()


def bands(data, places, results: dict, seeds: list[int]) -> str:
    """Distinct cells by the user's number of events: real training users vs the saved fits."""
    rows: dict[str, list] = {"training real": []}
    rows |= {k: [] for k in ("calibrated", "activity", "explore") if results.get(FIT_KEY[k])}
    for i, seed in enumerate(seeds):
        split = split_users(data.user_ids, 0.15, 0.25, seed)
        ev = CellEvents.from_records(data.subset(split.train).records, data.antennas, data.start)
        sim = CellSimulator(ev, places, data.start, data.days, seed)
        rows["training real"].append(distinct_by_activity(ev))
        for k in rows:
            if k != "training real":
                fit = results[FIT_KEY[k]][i]
                params = MobilityParams(**fit["fitted"]) if k == "calibrated" else activity_params(fit)
                rows[k].append(distinct_by_activity(sim.observe(params, 1000 + seed)))
    lines = ["| median distinct cells, users with … events (mean over seeds) | "
             + " | ".join(f"{a}–{b}" for a, b in zip(BANDS[:-1], BANDS[1:], strict=True)) + " |",
             "|---|" + "---|" * (len(BANDS) - 1)]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in np.nanmean(values, axis=0)) + " |")
    return "\n".join(lines)


def synthetic_sample(sim: CellSimulator, params: MobilityParams, data, user_ids, seed: int) -> CDRSample:
    ev = sim.observe(params, seed)
    ts = data.start + pd.to_timedelta(ev.t_s, unit="s")
    records = pd.DataFrame({"user_id": np.asarray(user_ids)[ev.user], "timestamp": ts, "event": "data",
                            "direction": "out", "duration_s": 0.0, "answered": True, "counterpart_id": -1,
                            "cell_id": ev.cell, "volume_bytes": -1})
    return CDRSample(records, data.start, data.days, data.antennas, "synthetic")


DEPR_SCRIPT = r"""
import sys
import geopandas as gpd, pandas as pd
from shapely.geometry import Point
from skmob.models.epr import DensityEPR
places = pd.read_csv(sys.argv[1])
n_agents, days, seed = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
start = pd.Timestamp(sys.argv[5])
tess = gpd.GeoDataFrame({"tile_ID": places["place_id"].astype(str), "relevance": places["relevance"]},
                        geometry=[Point(xy) for xy in zip(places["lon"], places["lat"])], crs="EPSG:4326")
tdf = DensityEPR().generate(start, start + pd.Timedelta(days=days), tess, relevance_column="relevance",
                            n_agents=n_agents, random_state=seed, show_progress=False)
pd.DataFrame(tdf)[["uid", "datetime", "lat", "lng"]].to_csv(sys.argv[6], index=False)
"""


def depr_sample(python: str, places: pd.DataFrame, ev: CellEvents, data, user_ids, seed: int) -> CDRSample:
    """scikit-mobility's d-EPR (DensityEPR) on the same places, observed at the same event times."""
    n_agents = int(ev.user.max()) + 1
    with tempfile.TemporaryDirectory() as tmp:
        places.assign(relevance=places["home_weight"]).to_csv(f"{tmp}/places.csv", index=False)
        (Path(tmp) / "run.py").write_text(DEPR_SCRIPT)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        start = str(data.start.tz_localize(None))
        subprocess.run([python, f"{tmp}/run.py", f"{tmp}/places.csv", str(n_agents), str(data.days),
                        str(seed), start, f"{tmp}/traj.csv"], check=True, env=env, capture_output=True)
        traj = pd.read_csv(f"{tmp}/traj.csv")
    tree = Coverage(data.antennas)  # the trajectory's points are the places (sites) themselves
    traj["cell"] = tree.serving_cell(traj["lat"].to_numpy(), traj["lng"].to_numpy())
    traj["t_s"] = (pd.to_datetime(traj["datetime"]) - start_naive(data)).dt.total_seconds()
    traj["u"] = pd.factorize(traj["uid"], sort=True)[0]
    traj = traj.sort_values(["u", "t_s"], kind="stable")
    span = data.days * 86400.0 + 1.0
    key = traj["u"].to_numpy() * span + traj["t_s"].to_numpy()
    at = np.searchsorted(key, ev.user * span + ev.t_s, side="right") - 1
    ok = (at >= 0) & (traj["u"].to_numpy()[np.maximum(at, 0)] == ev.user)
    cell = traj["cell"].to_numpy()[np.maximum(at, 0)]
    records = pd.DataFrame({"user_id": np.asarray(user_ids)[ev.user[ok]],
                            "timestamp": data.start + pd.to_timedelta(ev.t_s[ok], unit="s"),
                            "event": "data", "direction": "out", "duration_s": 0.0, "answered": True,
                            "counterpart_id": -1,
                            "cell_id": cell[ok], "volume_bytes": -1})
    return CDRSample(records, data.start, data.days, data.antennas, "d-EPR")


def start_naive(data) -> pd.Timestamp:
    return data.start.tz_localize(None)


def plot(data, places, params: MobilityParams, seed: int, synth: dict | None = None,
         params_activity: MobilityParams | None = None, stem: str = "mobility_real") -> None:
    """Radius of gyration and jump lengths (CCDFs): held-out, training, Zen calibrated (before and
    activity-aware) and defaults."""
    split = split_users(data.user_ids, 0.15, 0.25, seed)
    train, holdout = sample(data, split.train, "train"), sample(data, split.holdout, "holdout")
    if synth is None:
        sim = CellSimulator(CellEvents.from_records(train.records, data.antennas, data.start), places,
                            data.start, data.days, seed)
        synth = {"calibrated": synthetic_sample(sim, params, data, split.train, 1000 + seed),
                 "defaults": synthetic_sample(sim, MobilityParams(), data, split.train, 1000 + seed)}
        if params_activity is not None:
            synth["activity"] = synthetic_sample(sim, params_activity, data, split.train, 1000 + seed)
    names = {"calibrated": "Zen calibrated (before)", "activity": "Zen activity-aware serving",
             "explore": "Zen activity-aware + activity-dependent mobility",
             "explore_nb": "Zen activity-dependent mobility + serving neighbours",
             "handover": "Zen activity-aware + handover law", "defaults": "Zen defaults", "d-EPR": "d-EPR"}
    models = [m for m in names if m in synth]
    mobility_ccdfs([holdout, train] + [synth[m] for m in models],
                   ["held-out real", "training real (floor)"] + [names[m] for m in models]).savefig(
        REPO / "experiments" / f"{stem}.png", dpi=90)


def activity_params(fit: dict) -> MobilityParams:
    """The activity-aware parameters of a saved fit (``results["fits_activity"][i]``)."""
    table = {k: fit["serving_activity"][k] for k in ("gap_edges_s", "burst_edges_s", "keep", "handover")
             if k in fit["serving_activity"]}
    extra = {"activity_reference": fit["activity_reference"]} if "activity_reference" in fit else {}
    return MobilityParams(**fit["fitted"], serving_activity=table, **extra)


def sample(data, ids, label) -> CDRSample:
    sub = data.subset(ids)
    return CDRSample(sub.records, sub.start, sub.days, data.antennas, label)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--floor-splits", type=int, default=8)
    ap.add_argument("--max-evals", type=int, default=60)
    ap.add_argument("--skmob-python", default="/work/venvs/skmob-mob/bin/python", help="'none' to skip d-EPR")
    ap.add_argument("--handover", action="store_true", help="add the fit with the handover distance law")
    ap.add_argument("--explore", action="store_true",
                    help="add the activity-aware fit with activity-dependent mobility (explore_activity)")
    ap.add_argument("--neighbours", action="store_true",
                    help="the activity-aware fits also fit serving_neighbours (how many nearest places a "
                         "serving change may go to); results to mobility_real_neighbours[_explore]")
    ap.add_argument("--skip-activity", action="store_true", help="leave out the activity-aware fit "
                    "without --explore's additions")
    ap.add_argument("--skip-before", action="store_true", help="leave out the fit without activity")
    ap.add_argument("--plot-only", action="store_true", help="redraw the plot from the saved fit of seed 0")
    ap.add_argument("--bands-only", action="store_true",
                    help="distinct cells by events per user, from the saved fits (also printed after a run)")
    args = ap.parse_args()
    data = load()
    places = site_places(Coverage(data.antennas))
    if args.plot_only:
        saved = json.loads((REPO / "experiments" / "mobility_real.json").read_text())
        act = activity_params(saved["fits_activity"][0]) if saved.get("fits_activity") else None
        plot(data, places, MobilityParams(**saved["fits"][0]["fitted"]), args.seeds[0], params_activity=act)
        return
    if args.bands_only:
        print(bands(data, places, json.loads((REPO / "experiments" / "mobility_real.json").read_text()),
                    args.seeds))
        return
    results = {"floor": [], "calibrated": [], "activity": [], "explore": [], "handover": [], "defaults": [],
               "d-EPR": [], "fits": [], "fits_activity": [], "fits_explore": [], "fits_handover": [],
               "change_by_gap": []}
    stem = ("mobility_real_explore" if args.explore and not args.handover else "mobility_real_handover") \
        if args.skip_before else "mobility_real"
    if args.neighbours:
        stem = "mobility_real_neighbours" + ("_explore" if args.explore else "")
    nb = ("serving_neighbours",) if args.neighbours else ()
    with_depr = args.skmob_python != "none" and Path(args.skmob_python).exists()
    for split_seed in range(max(args.floor_splits, max(args.seeds) + 1)):
        split = split_users(data.user_ids, 0.15, 0.25, split_seed)
        results["floor"].append(scores(sample(data, split.train, "train"),
                                       sample(data, split.holdout, "holdout")))
    for seed in args.seeds:
        split = split_users(data.user_ids, 0.15, 0.25, seed)
        train, holdout = sample(data, split.train, "train"), sample(data, split.holdout, "holdout")
        ev = CellEvents.from_records(train.records, data.antennas, data.start)
        keys = ("fitted", "standard_error", "loss_start", "loss_fitted")
        fitted = {}
        if not args.skip_before:
            params, report = fit_cell_sequences(ev, places, data.start, data.days, MobilityParams(),
                                                CELL_FITTED, seed=seed, max_evals=args.max_evals, n_boot=40)
            results["fits"].append({k: report[k] for k in keys})
            fitted["calibrated"] = params
        if not args.skip_activity:
            params_act, report_act = fit_cell_sequences(ev, places, data.start, data.days, MobilityParams(),
                                                        (*CELL_FITTED_ACTIVITY, *nb), seed=seed,
                                                        max_evals=args.max_evals, n_boot=40, activity=True)
            results["fits_activity"].append({k: report_act[k] for k in keys + ("serving_activity",)})
            fitted["activity"] = params_act
        if args.explore:
            params_ex, report_ex = fit_cell_sequences(
                ev, places, data.start, data.days, MobilityParams(),
                (*CELL_FITTED_ACTIVITY, "explore_activity", *nb),
                seed=seed, max_evals=args.max_evals, n_boot=40, activity=True)
            results["fits_explore"].append({k: report_ex[k] for k in keys + ("serving_activity",
                                                                              "activity_reference")})
            fitted["explore"] = params_ex
        if args.handover:
            params_ho, report_ho = fit_cell_sequences(
                ev, places, data.start, data.days, MobilityParams(), CELL_FITTED_ACTIVITY, seed=seed,
                max_evals=args.max_evals, n_boot=40, activity=True, handover=True)
            results["fits_handover"].append({k: report_ho[k] for k in keys + ("serving_activity",)})
            fitted["handover"] = params_ho
        sim = CellSimulator(ev, places, data.start, data.days, seed)
        synth = {name: synthetic_sample(sim, p, data, split.train, 1000 + seed) for name, p in fitted.items()}
        synth["defaults"] = synthetic_sample(sim, MobilityParams(), data, split.train, 1000 + seed)
        held_out = CellEvents.from_records(holdout.records, data.antennas, data.start)
        results["change_by_gap"].append({
            "held-out real": change_by_gap(held_out),
            "training real": change_by_gap(ev),
            **{name: change_by_gap(sim.observe(p, 1000 + seed)) for name, p in fitted.items()}})
        if with_depr:
            synth["d-EPR"] = depr_sample(args.skmob_python, places, ev, data, split.train, 1000 + seed)
        for name, s in synth.items():
            results[name].append(scores(s, holdout))
        if seed == args.seeds[0]:
            plot(data, places, fitted.get("activity", fitted.get("explore")), seed, synth, stem=stem)
        losses = {k: f"{v[-1]['loss_start']:.0f} -> {v[-1]['loss_fitted']:.0f}"
                  for k, v in (("before", results["fits"]), ("activity-aware", results["fits_activity"]),
                               ("explore", results["fits_explore"]),
                               ("handover", results["fits_handover"])) if v}
        print(f"seed {seed} done: loss {losses}", flush=True)
    (REPO / "experiments" / f"{stem}.json").write_text(json.dumps(results, indent=1, default=float))
    print(table(results, args.seeds))
    if results["fits"] or results["fits_explore"]:
        print(bands(data, places, results, args.seeds))


def table(results: dict, seeds: list[int]) -> str:
    floor = pd.DataFrame(results["floor"])
    models = [m for m in ("calibrated", "activity", "explore", "handover", "defaults", "d-EPR")
              if results.get(m)]
    frames = {m: pd.DataFrame(results[m]) for m in models}
    floor_same = floor.iloc[seeds]
    names = {"calibrated": "Zen calibrated (before)", "activity": "Zen calibrated, activity-aware serving",
             "explore": "Zen activity-aware + activity-dependent mobility",
             "handover": "Zen activity-aware + handover law", "defaults": "Zen literature defaults",
             "d-EPR": "d-EPR (skmob)"}
    ratios = [m for m in ("calibrated", "activity", "explore", "handover") if m in frames]
    lines = ["| measure | floor (same splits) | floor over splits (mean ± sd) | "
             + " | ".join(names[m] for m in models) + " | "
             + " | ".join(f"{names[m]} / floor" for m in ratios) + " | best model |",
             "|---|---|---|" + "---|" * len(models) + "---|" * len(ratios) + "---|"]
    for row in ROWS:
        f = floor_same[row]
        cells = [f"{frames[m][row].mean():.3f} ({frames[m][row].min():.3f}–{frames[m][row].max():.3f})"
                 for m in models]
        ratio = [f"{frames[m][row].mean() / f.mean():.1f}×" if f.mean() > 0 else "–" for m in ratios]
        best = min(models, key=lambda m: frames[m][row].mean())
        lines.append(f"| {row} | {f.mean():.3f} | {floor[row].mean():.3f} ± {floor[row].std():.3f} | "
                     + " | ".join(cells) + " | " + " | ".join(ratio) + f" | {names[best]} |")
    if results.get("change_by_gap"):
        lines += ["", "| share in another cell, by gap to the previous event (mean over seeds) | "
                  + " | ".join(f"{a:g}–{b:g} s" for a, b in zip(GAP_EDGES[:-1], GAP_EDGES[1:], strict=True))
                  + " |",
                  "|---|" + "---|" * (len(GAP_EDGES) - 1)]
        for name in results["change_by_gap"][0]:
            mean = np.nanmean([r[name] for r in results["change_by_gap"]], axis=0)
            lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in mean) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
