"""Benchmark and fidelity report of the mobility emulator -> experiments/mobility.md.

    nice -n 10 python scripts/bench_mobility.py                       # everything (~10 min with skmob)
    nice -n 10 python scripts/bench_mobility.py --skmob-python none   # without scikit-mobility

Sections: (1) measures of generated users vs the stylised facts and the GeoLife sample; (2) GeoLife
calibration vs the literature parameters; (3) speed side by side with scikit-mobility's DensityEPR
(built by scripts/skmob_env.sh in its own venv) on the same 1,000 Milan LTE sites, in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from zen.measures.mobility import radius_of_gyration
from zen.mobility import MobilityEmulator, MobilityParams, calibrate_from_gps, choose_anchors, load_gps
from zen.mobility.calibration import detect_stays
from zen.mobility.measures import (
    detect_home_work,
    home_share_at_night,
    jump_lengths,
    locations_over_time,
    number_of_locations,
    power_law_slope,
    visitation_frequency_rank,
    visits_from_stays,
    waiting_times,
    work_share_weekdays,
)
from zen.mobility.waiting import fit_waiting_times

START = pd.Timestamp("2013-02-04", tz="UTC")  # a Monday
REPO = Path(__file__).resolve().parents[1]

SKMOB_SCRIPT = r"""
import json, resource, sys, time
import geopandas as gpd, pandas as pd
from shapely.geometry import Point
from skmob.models.epr import DensityEPR
places = pd.read_csv(sys.argv[1])
n_agents, days, seed = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
tess = gpd.GeoDataFrame({"tile_ID": places["place_id"].astype(str), "relevance": places["relevance"]},
                        geometry=[Point(xy) for xy in zip(places["lon"], places["lat"])], crs="EPSG:4326")
start = pd.Timestamp("2013-02-04 00:00")
t0, c0 = time.perf_counter(), time.process_time()
tdf = DensityEPR().generate(start, start + pd.Timedelta(days=days), tess, relevance_column="relevance",
                            n_agents=n_agents, random_state=seed, show_progress=False)
seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": len(tdf),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def milan_places(shared_data: Path, n_places: int, seed: int) -> pd.DataFrame:
    """``n_places`` real LTE sites of Milan (OpenCellID); weight = base stations per site."""
    sites = pd.read_csv(shared_data / "milan_cells" / "aggregated_bs_data-LTE.csv")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(sites), size=min(n_places, len(sites)), replace=False))
    sites = sites.iloc[pick].reset_index(drop=True)
    weight = sites["n_base_stations"].to_numpy(dtype=float)
    return pd.DataFrame({"place_id": np.arange(len(sites)), "lat": sites["lat"], "lon": sites["lng"],
                         "home_weight": weight / 2, "work_weight": weight / 2,
                         "cell_id": sites["aggregated_bs_id"].astype("int64")})


def time_ours(places: pd.DataFrame, n_agents: int, days: float, repeats: int, device: str) -> dict:
    params = MobilityParams()
    home, work = choose_anchors(places, n_agents, params, np.random.default_rng(0))
    best, best_cpu, stays = float("inf"), float("inf"), None
    for r in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        stays = MobilityEmulator(params).simulate(places, home, work, days, START, seed=r, device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return {"seconds": best, "cpu_seconds": best_cpu, "rows": len(stays)}


def time_skmob(python: str, places: pd.DataFrame, n_agents: int, days: float, timeout_s: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "places.csv"
        frame = places.assign(relevance=places["home_weight"] + places["work_weight"])
        frame.to_csv(path, index=False)
        script = Path(tmp) / "skmob_bench.py"
        script.write_text(SKMOB_SCRIPT)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        try:
            out = subprocess.run([python, str(script), str(path), str(n_agents), str(days), "0"], env=env,
                                 capture_output=True, text=True, timeout=timeout_s, check=True)
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish within {timeout_s:.0f} s"}
        except subprocess.CalledProcessError as err:
            return {"error": err.stderr.strip().splitlines()[-1] if err.stderr else "failed"}
        return json.loads(out.stdout.strip().splitlines()[-1])


def speed_section(args, places: pd.DataFrame) -> list[str]:
    lines = ["## Speed: ours vs scikit-mobility DensityEPR", "",
             f"Same {len(places)} places (Milan LTE sites, relevance = base stations), {args.days:g} days, "
             "agents' homes and seeds fixed; ours = best of "
             f"{args.repeats} runs of `MobilityEmulator.simulate` with torch on {args.threads} thread(s); "
             "DensityEPR = one run of `generate` in its own process (numpy/BLAS limited to 1 thread). "
             "Both measured in this run, one after the other. Wall-clock seconds depend on the other jobs "
             "sharing the 2 cores; CPU seconds (process time, one thread each) are the fairer per-core "
             "figure, and the ratio is taken on them.", "",
             "| agents | ours wall s | ours CPU s | ours agent-days/CPU-s | DensityEPR wall s | "
             "DensityEPR CPU s | DensityEPR agent-days/CPU-s | ratio (CPU) | DensityEPR peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n in args.sizes:
        ours = time_ours(places, n, args.days, args.repeats, "cpu")
        ours_rate = n * args.days / ours["cpu_seconds"]
        theirs = {"error": "not run"}
        if args.skmob_python != "none" and Path(args.skmob_python).exists() and n <= args.skmob_max_agents:
            theirs = time_skmob(args.skmob_python, places, n, args.days, args.skmob_timeout)
        if "seconds" in theirs:
            rate = n * args.days / theirs["cpu_seconds"]
            cells = (f"{theirs['seconds']:.1f} | {theirs['cpu_seconds']:.1f} | {rate:,.0f} | "
                     f"{ours_rate / rate:,.0f}x | {theirs['peak_rss_mb']:,.0f}")
        else:
            cells = f"- | - | - | - | - ({theirs['error']})"
        lines.append(f"| {n:,} | {ours['seconds']:.2f} | {ours['cpu_seconds']:.2f} | {ours_rate:,.0f} | "
                     f"{cells} |")
        print(lines[-1], flush=True)
    if torch.cuda.is_available():
        lines += ["", "GPU (`device=cuda`):", "", "| agents | s | agent-days/s |", "|---|---|---|"]
        for n in args.sizes:
            gpu = time_ours(places, n, args.days, args.repeats, "cuda")
            lines.append(f"| {n:,} | {gpu['seconds']:.2f} | {n * args.days / gpu['seconds']:,.0f} |")
    return lines + [""]


def measures_of(visits: pd.DataFrame, start: pd.Timestamp, days: float) -> dict[str, float]:
    s_t = locations_over_time(visits, step_s=86400.0)
    s_t = s_t[s_t["t_s"] <= days * 86400]
    freq = visitation_frequency_rank(visits, ranks=20)
    rg = radius_of_gyration(visits["user"], visits["lat"], visits["lon"]).to_numpy() / 1000
    jumps = jump_lengths(visits)
    jump_beta, _ = fit_waiting_times(jumps, 200.0, float(max(jumps.max(), 400.0)))
    anchors = detect_home_work(visits, start)
    home, work = anchors["home"], anchors["work"]
    place = visits["place"].to_numpy()
    user = visits["user"]
    free = (place != home.reindex(user).to_numpy()) & (place != work.reindex(user).to_numpy())
    wait_beta, wait_tau = fit_waiting_times(waiting_times(visits)[free], 1200.0, 24 * 3600.0)
    return {
        "S(t) exponent (days 1..end)": power_law_slope(s_t["t_s"], s_t["mean_locations"]),
        "visitation f_k exponent (ranks 1..20)": power_law_slope(freq.index, freq.to_numpy()),
        "r_g median km": float(np.median(rg)),
        "r_g p90 / median": float(np.percentile(rg, 90) / np.median(rg)),
        "jump length exponent (TPL, > 200 m)": 1 + jump_beta,
        "jump length median km": float(np.median(jumps) / 1000),
        "waiting-time beta (not home/work, >= 20 min)": wait_beta,
        "waiting-time tau h": wait_tau / 3600,
        "night home share (22-06)": float(home_share_at_night(visits, home, start).mean()),
        "distinct places per user per week": float(number_of_locations(visits).mean() * 7 / days),
    }


def fidelity_section(args, places: pd.DataFrame) -> list[str]:
    params = MobilityParams()
    home, work = choose_anchors(places, args.fidelity_users, params, np.random.default_rng(0))
    stays = MobilityEmulator(params).simulate(places, home, work, 28, START, seed=0)
    visits = visits_from_stays(stays, places)
    ours = measures_of(visits, START, 28)
    night = home_share_at_night(visits, pd.Series(home), START).mean()
    at_work = work_share_weekdays(visits, pd.Series(work), START).mean()
    points = load_gps(args.shared_data / "geolife_sample" / "geolife_sample.txt.gz")
    points["datetime"] = points["datetime"] + pd.Timedelta(hours=8)  # Beijing local time
    geo_visits, geo_start = detect_stays(points, 200.0, 1200.0)
    geo_days = (geo_visits["end_s"].max() - geo_visits["start_s"].min()) / 86400
    geo = measures_of(geo_visits, geo_start, geo_days)
    facts = {"S(t) exponent (days 1..end)": "0.6 (Song 2010)",
             "visitation f_k exponent (ranks 1..20)": "-1.2 (Song 2010)",
             "r_g p90 / median": "heavy tail (González 2008)",
             "waiting-time beta (not home/work, >= 20 min)": "0.8 (Song 2010)",
             "waiting-time tau h": "17 (Song 2010)",
             "jump length exponent (TPL, > 200 m)": "1.55 (Song 2010), 1.75 (González 2008)"}
    lines = ["## Measures of generated users vs stylised facts and GeoLife", "",
             f"Ours: {args.fidelity_users:,} users x 28 days, literature defaults, on the same Milan places. "
             f"GeoLife: the 2-user sample, stays of >= 20 min within 200 m, local time (UTC+8), "
             f"{geo_days:.0f} days spanned (the logger is off most of the time, so per-week counts are low).",
             "",
             "| measure | ours | GeoLife sample | literature |", "|---|---|---|---|"]
    for name, value in ours.items():
        lines.append(f"| {name} | {value:.3g} | {geo[name]:.3g} | {facts.get(name, '')} |")
    lines += ["", "Diary checks (ranges in `configs/mobility/default.yaml` `expect`): night home share "
              f"{night:.3f} (home = the assigned home), weekday 10-16 work share of workers {at_work:.3f}.",
              ""]
    return lines


def calibration_section(args) -> list[str]:
    points = load_gps(args.shared_data / "geolife_sample" / "geolife_sample.txt.gz")
    lines = ["## Calibration on the GeoLife sample vs the literature", "",
             "`calibrate_from_gps(points, radius_m=200, min_duration_s=..., utc_offset_h=8)`; "
             "only 2 users, so the fits are indicative (standard errors are large).", "",
             "| parameter | literature | fitted, stays >= 20 min | fitted, stays >= 10 min |",
             "|---|---|---|---|"]
    fits = []
    for min_duration in (1200.0, 600.0):
        t0 = time.perf_counter()
        _, report = calibrate_from_gps(points, radius_m=200.0, min_duration_s=min_duration, utc_offset_h=8)
        report["seconds"] = time.perf_counter() - t0
        fits.append(report)
    for name, value in fits[0]["literature"].items():
        fitted = [f"{fit['fitted'][name]:.3g}" for fit in fits]
        lines.append(f"| {name} | {value:g} | {fitted[0]} | {fitted[1]} |")
    for key in ("jump_length_exponent", "jump_length_cutoff_km", "stays", "locations", "exploration_trials",
                "seconds"):
        lines.append(f"| {key} | | {fits[0][key]:.3g} | {fits[1][key]:.3g} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--places", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for ours (1 = per core)")
    parser.add_argument("--skmob-python", default="/work/venvs/skmob/bin/python", help="'none' to skip")
    parser.add_argument("--skmob-max-agents", type=int, default=10000)
    parser.add_argument("--skmob-timeout", type=float, default=1800.0)
    parser.add_argument("--fidelity-users", type=int, default=2000)
    default_data = Path(os.environ.get("ZEN_DATA") or REPO.parent / "shared" / "data")
    parser.add_argument("--shared-data", type=Path, default=default_data)
    parser.add_argument("--out", type=Path, default=REPO / "experiments" / "mobility.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    places = milan_places(args.shared_data, args.places, seed=0)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    lines = ["# Mobility emulator: measures, calibration, speed", "",
             f"Produced by `python scripts/bench_mobility.py` on {when} UTC. "
             f"Hardware: {os.cpu_count()}-core x86 VM, shared with other jobs ({cpu}); "
             f"torch {torch.__version__}.", ""]
    lines += speed_section(args, places)
    lines += fidelity_section(args, places)
    lines += calibration_section(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
