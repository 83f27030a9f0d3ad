"""Zen side by side with the peer generators (issue 9), in one command.

Fits gretel-synthetics' DGAN, SDV's PARSynthesizer and each Zen traffic model found in this
checkout on the Copenhagen training users, samples 1k / 10k / 100k users x 28 days from each
(every attempt capped), converts the outputs to Zen's schema, scores them against the held-out
users and writes the tables and plots to ``experiments/peers/``. Every fit and every sample runs
in its own process (``scripts/peer_worker.py``), so its time and peak memory are its own.

    bash scripts/peers_env.sh                       # once: /work/venvs/peers
    nice -n 10 python scripts/run_peers.py          # ~45 min on a shared 2-core VM

Run it from the repository root with the project's Python; the peers run under
``--peers-python``. Two generators run side by side (``--lanes``). To rerun some generators only
and keep the others' results: ``--only par --par 1:0 --merge``; ``--only none --merge`` re-renders
the tables and the plot from ``results.json`` and the datasets in ``--work``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from zen.data import load_copenhagen, split_users  # noqa: E402
from zen.evaluation.fidelity import fidelity_scores, overall_score  # noqa: E402
from zen.evaluation.metrics import (  # noqa: E402
    call_durations,
    events_per_user_day,
    first_metrics,
    hour_of_day_profile,
    inter_event_times,
)
from zen.evaluation.privacy import privacy_scores  # noqa: E402
from zen.evaluation.sample import CDRSample  # noqa: E402
from zen.io.dataset import read_dataset, write_dataset  # noqa: E402
from zen.peers import (  # noqa: E402
    DGAN_FEATURES,
    activity_edges,
    activity_levels,
    dgan_arrays_to_records,
    par_frame_to_records,
    par_metadata,
    records_to_dgan_arrays,
    records_to_par_frame,
)
from zen.peers.dgan import DISCRETE_FEATURES  # noqa: E402
from zen.traffic.base import KINDS  # noqa: E402

DAYS = 28.0
DISPLAY = ("zen", "dgan", "par")  # table order
METRICS = ("ks_inter_event", "ks_call_duration", "ks_events_per_user_day", "jsd_hour_of_week",
           "jsd_hour_of_day")


@dataclass
class Generator:
    """One generator under comparison and what was measured of it."""

    name: str
    peer: str  # dgan, par, zen
    fit_cfg: dict
    python: str
    work: Path
    window_days: float = DAYS
    fit: dict = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)
    fidelity: dict = field(default_factory=dict)
    records: pd.DataFrame | None = None
    note: str = ""


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_worker(gen: Generator, phase: str, cfg: dict, cap_s: float) -> dict:
    """Run one phase in a child process; ``{"error": ...}`` when it fails or passes ``cap_s``."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [gen.python, str(REPO / "scripts" / "peer_worker.py"), phase, gen.peer, str(gen.work),
           json.dumps(cfg)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=cap_s, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after the {cap_s:.0f} s cap", "wall_s": time.perf_counter() - t0}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {done.returncode}: {tail[0][:300]}", "wall_s": time.perf_counter() - t0}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


def prepare_inputs(gen: Generator, train: pd.DataFrame, start: pd.Timestamp,
                   activity: pd.Series) -> None:
    """Write the generator's training input into its work folder."""
    gen.work.mkdir(parents=True, exist_ok=True)
    if gen.peer == "dgan":
        arrays = records_to_dgan_arrays(train, start, DAYS, activity, gen.fit_cfg["max_len"],
                                        gen.window_days)
        np.savez(gen.work / "dgan_train.npz", features=arrays.features, attributes=arrays.attributes,
                 names=np.array(DGAN_FEATURES), discrete=np.array(DISCRETE_FEATURES))
        gen.note = (f"{arrays.features.shape[0]} windows of {gen.window_days:g} days x "
                    f"{arrays.features.shape[1]} steps; {arrays.truncated_events} of {len(train)} "
                    f"training events truncated")
    elif gen.peer == "par":
        records_to_par_frame(train, start, DAYS, activity).to_parquet(gen.work / "par_train.parquet")
        (gen.work / "par_metadata.json").write_text(json.dumps(par_metadata()))


def decode(gen: Generator, out: str, start: pd.Timestamp) -> tuple[pd.DataFrame, dict]:
    """Read a sample written by the worker and convert it to Zen's records schema."""
    if gen.peer == "dgan":
        data = np.load(gen.work / f"{out}.npz")
        return dgan_arrays_to_records(data["features"], data["attributes"], start, DAYS, gen.window_days)
    frame = pd.read_parquet(gen.work / f"{out}.parquet")
    if gen.peer == "par":
        return par_frame_to_records(frame, start, DAYS)
    return frame, {}


def sample(gen: Generator, n_users: int, start: pd.Timestamp, seed: int,
           cap_s: float) -> tuple[dict, pd.DataFrame | None]:
    """Sample ``n_users`` x 28 days, convert, and measure; the records on success."""
    out = f"sample-{n_users}"
    cfg = {"n": n_users, "out": out, "seed": seed, "start": str(start), "days": DAYS,
           "kind": gen.fit_cfg.get("kind")}
    if gen.peer == "dgan":
        cfg["windows"] = n_users * int(round(DAYS / gen.window_days))
    run = run_worker(gen, "sample", cfg, cap_s)
    run["n_users"] = n_users
    if "error" in run:
        return run, None
    t0 = time.perf_counter()
    records, repairs = decode(gen, out, start)
    run["convert_s"] = time.perf_counter() - t0
    run["events"] = int(len(records))
    run["users_with_events"] = int(records["user_id"].nunique())
    run["repairs"] = repairs
    total = run["seconds"] + run["convert_s"]
    run["s_per_1m_events"] = total / max(len(records), 1) * 1e6
    for suffix in (".npz", ".parquet"):
        (gen.work / f"{out}{suffix}").unlink(missing_ok=True)
    return run, records


def comparable(name: str) -> bool:
    """Scores that traffic-only outputs can be judged on: no counterparts, cells or data sessions."""
    return not (name.startswith("graph/") or "contact" in name or "data" in name)


def overall(metrics: dict[str, float]) -> float:
    """``zen-evaluate``'s overall score over the comparable KS/TV scores (1 = identical)."""
    return overall_score({k: v for k, v in metrics.items() if comparable(k)})


def score(records: pd.DataFrame, reference: CDRSample, train: CDRSample, start: pd.Timestamp,
          privacy: bool = True) -> dict[str, float]:
    """Issue 2's first metrics, ``zen-evaluate``'s fidelity scores and (optionally) its privacy scores.

    ``mean`` averages the first metrics; ``overall`` is ``zen-evaluate``'s overall score (mean of
    1 - KS and 1 - TV, higher is better) over the :func:`comparable` scores.
    """
    candidate = CDRSample(records, start, DAYS, label="synthetic")
    fidelity, _ = fidelity_scores(candidate, reference)
    metrics = {k: v for k, v in first_metrics(reference.records, records, DAYS, DAYS).items()}
    metrics["mean"] = float(np.mean([metrics[k] for k in METRICS]))
    metrics.update({k: v for k, v in fidelity.items() if comparable(k) and not k.startswith("first/")})
    metrics["overall"] = overall(fidelity)
    if privacy:
        metrics.update(privacy_scores(candidate, train, reference)[0])
    return metrics


def build_generators(args: argparse.Namespace, work: Path) -> list[Generator]:
    """The configurations to compare: peers with their defaults and the tuning pass, Zen's kinds."""
    peers_py = args.peers_python
    gens = []
    if "dgan" in args.only:
        for name, window, max_len, sample_len in (("DGAN user-week", 7.0, 128, 8),
                                                  ("DGAN user-sequence", DAYS, 256, 16)):
            gens.append(Generator(name, "dgan", {"max_len": max_len, "sample_len": sample_len,
                                                 "epochs": args.dgan_epochs, "seed": args.seed},
                                  peers_py, work / name.replace(" ", "-"), window_days=window))
    if "par" in args.only:
        for spec in args.par:
            epochs, max_events = (int(x) for x in spec.split(":"))
            name = f"PAR epochs={epochs}" + (f" first {max_events} events" if max_events else "")
            gens.append(Generator(name, "par", {"epochs": epochs, "max_events": max_events,
                                                "seed": args.seed}, peers_py,
                                  work / name.replace(" ", "-").replace("=", "")))
    if "zen" in args.only:
        for kind, label in (("baseline", "Zen Poisson baseline"), ("lstm", "Zen LSTM")):
            module = KINDS[kind].split(":")[0]
            if (REPO / (module.replace(".", "/") + ".py")).exists():
                model = yaml_config(REPO / "zen" / "configs" / "model" / f"{kind}.yaml")
                model.pop("kind")
                trainer = yaml_config(REPO / "zen" / "configs" / "trainer" / "default.yaml")
                trainer["max_epochs"] = args.lstm_epochs
                gens.append(Generator(label, "zen", {"kind": kind, "data": str(args.data), "model": model,
                                                     "seed": args.seed, "trainer": trainer},
                                      sys.executable, work / f"zen-{kind}"))
            else:
                log(f"{label}: {module} is not in this checkout; skipped")
    return gens


def yaml_config(path: Path) -> dict:
    """A config group file as a plain dict (the same values ``zen-train`` composes)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "copenhagen")
    p.add_argument("--work", type=Path, default=REPO / "outputs" / "peers")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "peers")
    p.add_argument("--peers-python", default="/work/venvs/peers/bin/python")
    p.add_argument("--only", nargs="+", default=["dgan", "par", "zen"],
                   help="generator families to run; 'none' with --merge only re-renders the tables")
    p.add_argument("--populations", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--fit-cap-s", type=float, default=900.0, help="cap per fit (s)")
    p.add_argument("--sample-cap-s", type=float, default=180.0, help="cap per sample attempt (s)")
    p.add_argument("--first-sample-cap-s", type=float, default=600.0,
                   help="cap for the smallest population, the one that is scored (s)")
    p.add_argument("--dgan-epochs", type=int, default=8,
                   help="DGAN's documented default is 400: 1.7-4.7 h here at 15-42 s per epoch (README)")
    p.add_argument("--par", nargs="+", default=["1:0", "6:128"],
                   help="PAR runs as EPOCHS:MAX_EVENTS_PER_USER (0 = all); the documented default is "
                        "128 epochs: ~17 h here at ~8 min per epoch on full sequences (README)")
    p.add_argument("--lstm-epochs", type=int, default=6, help="trainer.max_epochs of Zen's LSTM (20)")
    p.add_argument("--lanes", type=int, default=2,
                   help="generators run side by side (each fit/sample is one process)")
    p.add_argument("--merge", action="store_true",
                   help="keep the other generators of an earlier results.json (rerun a few only)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    data = load_copenhagen(args.data)
    split = split_users(data.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    train = data.subset(split.train).records
    val = data.subset(split.val).records
    holdout = data.subset(split.holdout).records
    edges = activity_edges(train, DAYS)
    activity = pd.Series(activity_levels(train, split.train, DAYS, edges), index=split.train)
    real_train = CDRSample(train, data.start, DAYS, label="train")
    real_holdout = CDRSample(holdout, data.start, DAYS, label="holdout")
    real_val = CDRSample(val, data.start, DAYS, label="val")

    results = {"date_utc": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M"),
               "hardware": f"{os.cpu_count()}-core {platform.machine()} VM, shared; no GPU",
               "args": {k: str(v) for k, v in vars(args).items()},
               "users": {"train": len(split.train), "val": len(split.val), "holdout": len(split.holdout)},
               "floor": {"real train users": score(train, real_holdout, real_train, data.start, False),
                         "real val users": score(val, real_holdout, real_train, data.start)},
               "generators": []}
    overlay = {"real (held-out users)": holdout}
    lock = threading.Lock()

    def run_one(gen: Generator) -> None:
        """Fit, sample each population until one fails, score the smallest; record under the lock."""
        log(f"{gen.name}: fitting")
        prepare_inputs(gen, train, data.start, activity)
        gen.fit = run_worker(gen, "fit", gen.fit_cfg, args.fit_cap_s)
        log(f"{gen.name}: fit {gen.fit}")
        if "error" not in gen.fit:
            for n_users in sorted(args.populations):
                cap_s = args.first_sample_cap_s if n_users == min(args.populations) else args.sample_cap_s
                run, records = sample(gen, n_users, data.start, args.seed, cap_s)
                gen.runs.append(run)
                log(f"{gen.name}: {n_users} users {run}")
                if records is None:
                    break
                if n_users == min(args.populations):
                    with lock:  # scoring is light; one at a time keeps memory flat
                        gen.fidelity = {"vs holdout": score(records, real_holdout, real_train, data.start),
                                        "vs val": score(records, real_val, real_train, data.start, False)}
                        write_dataset(args.work / "datasets" / gen.name.replace(" ", "-"), records,
                                      data.start, DAYS, manifest={"generator": gen.name, "seed": args.seed})
                        overlay[gen.name] = records
                del records
        with lock:
            results["generators"].append({"name": gen.name, "peer": gen.peer, "config": gen.fit_cfg,
                                          "window_days": gen.window_days, "note": gen.note, "fit": gen.fit,
                                          "runs": gen.runs, "fidelity": gen.fidelity})
            write_results(results, args.out)

    gens = build_generators(args, args.work)
    if args.merge and (args.out / "results.json").exists():
        kept = [g for g in json.loads((args.out / "results.json").read_text())["generators"]
                if g["name"] not in {gen.name for gen in gens}]
        for g in kept:  # drop scores that later versions of comparable() leave out
            for side in g["fidelity"].values():
                for key in [k for k in side if "/" in k and not comparable(k)]:
                    side.pop(key)
                side["overall"] = overall(side)
        results["generators"].extend(kept)
        for g in kept:
            folder = args.work / "datasets" / g["name"].replace(" ", "-")
            if g["fidelity"] and (folder / "manifest.json").exists():
                overlay[g["name"]] = read_dataset(folder).records
    with ThreadPoolExecutor(max_workers=args.lanes) as pool:
        # longest first so that the lanes finish together: PAR, DGAN, the LSTM, the baseline
        rank = {"par": 0, "dgan": 1, "lstm": 2, "baseline": 3}
        list(pool.map(run_one, sorted(gens, key=lambda g: rank.get(g.peer, rank.get(g.fit_cfg.get("kind"))))))
    results["generators"].sort(key=lambda g: (DISPLAY.index(g["peer"]), g["name"]))
    order = [g["name"] for g in results["generators"]]
    overlay = {k: overlay[k] for k in ["real (held-out users)", *order] if k in overlay}
    plot_distributions(overlay, args.out / "distributions.png")
    write_results(results, args.out)
    log(f"wrote {args.out}")


def write_results(results: dict, out: Path) -> None:
    """``results.json`` (everything) and ``results.md`` (the tables)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (out / "results.md").write_text(markdown_tables(results))


def markdown_tables(results: dict) -> str:
    """Fidelity and cost tables in Markdown."""
    head = "| generator | " + " | ".join(METRICS) + " | mean |\n|---|" + "---:|" * (len(METRICS) + 1) + "\n"
    lines = [f"Run {results['date_utc']} UTC on {results['hardware']}.\n\n",
             "## Fidelity against the held-out users (1k synthetic users x 28 days; lower is better)\n",
             head]
    rows = [(k, v) for k, v in results["floor"].items()]
    rows += [(g["name"], g["fidelity"].get("vs holdout")) for g in results["generators"]]
    for name, m in rows:
        cells = " | ".join(f"{m[k]:.4f}" for k in (*METRICS, "mean")) if m else " | ".join(["-"] * 6)
        lines.append(f"| {name} | {cells} |\n")
    lines.append(full_table(results))
    lines.append("\n## Tuning pass: the same metrics against the validation users\n\n" + head)
    for g in results["generators"]:
        m = g["fidelity"].get("vs val")
        cells = " | ".join(f"{m[k]:.4f}" for k in (*METRICS, "mean")) if m else " | ".join(["-"] * 6)
        lines.append(f"| {g['name']} | {cells} |\n")
    lines.append("\n## Cost (each fit and each sample in its own process)\n\n"
                 "| generator | fit s | fit peak MiB | users | sample s | convert s | events | "
                 "s per 1M events | sample peak MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for g in results["generators"]:
        fit = g["fit"]
        fit_cells = (f"{fit['seconds']:.1f} | {fit['peak_rss_mib']:.0f}" if "error" not in fit
                     else f"{fit['error']} | -")
        if not g["runs"]:
            lines.append(f"| {g['name']} | {fit_cells} | - | - | - | - | - | - |\n")
        for r in g["runs"]:
            if "error" in r:
                lines.append(f"| {g['name']} | {fit_cells} | {r['n_users']:,} | {r['error']} | "
                             "- | - | - | - |\n")
            else:
                lines.append(f"| {g['name']} | {fit_cells} | {r['n_users']:,} | {r['seconds']:.1f} | "
                             f"{r['convert_s']:.1f} | {r['events']:,} | {r['s_per_1m_events']:.1f} | "
                             f"{r['peak_rss_mib']:.0f} |\n")
    notes = [f"- {g['name']}: {g['note']}\n" for g in results["generators"] if g["note"]]
    repairs = [f"- {g['name']} at {r['n_users']:,} users: {r['repairs']}\n" for g in results["generators"]
               for r in g["runs"][:1] if r.get("repairs")]
    if notes or repairs:
        lines.append("\n## Notes from the run\n\n" + "".join(notes) + "".join(repairs))
    return "".join(lines)


def full_table(results: dict) -> str:
    """``zen-evaluate``'s fidelity and privacy scores, one row per score, one column per generator."""
    columns = [("real val users", results["floor"]["real val users"])]
    columns += [(g["name"], g["fidelity"].get("vs holdout") or {}) for g in results["generators"]]
    keys = [k for k in columns[0][1] if "/" in k and not k.endswith("/w1") and not k.startswith("first/")]
    keys.append("overall")
    out = ["\n## zen-evaluate scores against the held-out users (KS/TV/JSD: lower is better; overall, "
           "dcr_ratio: higher is better; mia_auc: 0.5 is best)\n\n",
           "| score | " + " | ".join(name for name, _ in columns) + " |\n",
           "|---|" + "---:|" * len(columns) + "\n"]
    for key in keys:
        cells = " | ".join(f"{m[key]:.4f}" if key in m else "-" for _, m in columns)
        out.append(f"| {key} | {cells} |\n")
    return "".join(out)


def plot_distributions(overlay: dict[str, pd.DataFrame], path: Path) -> None:
    """Inter-event times, call durations, events/user/day (CDFs) and hour of day, all overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    panels = [(axes[0, 0], inter_event_times, "inter-event time (s)", True),
              (axes[0, 1], call_durations, "answered call duration (s)", True),
              (axes[1, 0], lambda r: events_per_user_day(r, DAYS), "events per user per day", True)]
    for name, records in overlay.items():
        style = {"color": "black", "lw": 2.5} if name.startswith("real") else {"lw": 1.2}
        for ax, measure, label, logx in panels:
            x = np.sort(measure(records))
            x = x[x > 0] if logx else x
            if len(x):
                ax.plot(x, np.arange(1, len(x) + 1) / len(x), label=name, **style)
            ax.set_xscale("log" if logx else "linear")
            ax.set_xlabel(label)
            ax.set_ylabel("CDF")
        hours = hour_of_day_profile(records)
        axes[1, 1].plot(np.arange(24), hours / max(hours.sum(), 1), marker="o", ms=3, label=name, **style)
    axes[1, 1].set_xlabel("hour of day (UTC)")
    axes[1, 1].set_ylabel("share of events")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Copenhagen held-out users vs 1k synthetic users x 28 days per generator")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
