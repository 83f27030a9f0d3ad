"""Benchmark the LSTM traffic model against the Poisson baseline and the real-vs-real floor.

Fits both models on the Copenhagen training users (split of configs/data/copenhagen.yaml),
scores the held-out users' NLL per event, compares generated users with the held-out users on
issue 2's metrics, and times generation of 1k / 10k / 100k users x 7 days (each size in its own
process so that its peak RSS is its own). Writes experiments/traffic.md.

    PYTHONPATH=. nice -n 10 python scripts/bench_traffic.py                # ~10 min, 2-core VM
    PYTHONPATH=. nice -n 10 python scripts/bench_traffic.py --sizes 1000   # quicker

(``PYTHONPATH=.`` makes a worktree's own ``zen`` win over the installed one.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from omegaconf import OmegaConf

from zen.data import load_copenhagen, split_users
from zen.evaluation.metrics import first_metrics
from zen.traffic.base import load_traffic_model, resolve_kind, save_traffic_model

REPO = Path(__file__).resolve().parents[1]
HEADS = ("time", "kind", "outcome", "duration", "rank")
METRICS = ("ks_inter_event", "ks_call_duration", "ks_events_per_user_day", "jsd_hour_of_week",
           "jsd_hour_of_day")


def model_config(name: str) -> dict:
    """``configs/model/<name>.yaml`` with its ``defaults`` applied (one level)."""
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "zen" / "configs" / "model" / f"{name}.yaml"))
    base = {}
    for parent in cfg.pop("defaults", []):
        if parent != "_self_":
            base.update(model_config(parent))
    return {**base, **cfg}


def distinct_contacts_ks(real: pd.DataFrame, synthetic_ranks: pd.DataFrame) -> float:
    """KS of distinct contacts per user: real counterparts vs generated contact ranks."""
    from zen.evaluation.metrics import ks_statistic

    r = real[real["counterpart_id"] >= 0].groupby("user_id")["counterpart_id"].nunique()
    s = synthetic_ranks[synthetic_ranks["rank"] >= 0].groupby("user")["rank"].nunique()
    return ks_statistic(r.to_numpy(), s.to_numpy())


def fit_model(kind: str, cfg: dict, train, val, work_dir: Path, seed: int) -> tuple[object, float]:
    trainer = OmegaConf.to_container(OmegaConf.load(REPO / "zen" / "configs" / "trainer" / "default.yaml"))
    model = resolve_kind(kind)(**{k: v for k, v in cfg.items() if k != "kind"})
    t0 = time.perf_counter()
    model.fit(train, val, trainer=trainer, work_dir=work_dir, device=torch.device("cpu"), seed=seed)
    return model, time.perf_counter() - t0


def speed_run(model_dir: str, n_users: int, days: float, threads: int) -> dict:
    """Time one generation in this process; returns events, user-steps, seconds, peak RSS."""
    torch.set_num_threads(threads)
    model = load_traffic_model(Path(model_dir))
    t0 = time.perf_counter()
    tl = model.sample(n_users, days, pd.Timestamp("2024-03-04", tz="UTC"), seed=0)
    seconds = time.perf_counter() - t0
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"users": n_users, "days": days, "events": len(tl), "user_steps": len(tl) + n_users,
            "seconds": seconds, "peak_rss_mib": rss_mib}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "copenhagen"))
    ap.add_argument("--models", default="lstm,lstm_bursty",
                    help="configs/model/<name>.yaml presets to compare; speed is timed for the first")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", default="0,1,2", help="training seeds of each LSTM preset")
    ap.add_argument("--synthetic-users", type=int, default=2000)
    ap.add_argument("--work", default="outputs/bench_traffic")
    ap.add_argument("--out", default=str(REPO / "experiments" / "traffic.md"))
    ap.add_argument("--speed", nargs=3, metavar=("MODEL_DIR", "USERS", "DAYS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.speed:
        print(json.dumps(speed_run(args.speed[0], int(args.speed[1]), float(args.speed[2]), args.threads)))
        return
    torch.set_num_threads(args.threads)
    data = load_copenhagen(args.data)
    split = split_users(data.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    train, val, hold = (data.subset(u) for u in (split.train, split.val, split.holdout))
    work = Path(args.work)
    rows, nll, fit_s, speed = {}, {}, {}, []
    rows["floor (train users vs holdout users)"] = {
        **first_metrics(hold.records, train.records, data.days, data.days),
        "ks_distinct_contacts": distinct_contacts_ks(
            hold.records, pd.DataFrame({"user": train.records["user_id"],
                                        "rank": train.records["counterpart_id"]}))}
    seeds = [int(s) for s in args.seeds.split(",")]
    presets = [("baseline", 0)] + [(m, s) for m in args.models.split(",") for s in seeds]
    for name, seed in presets:
        cfg = model_config(name)
        kind = name if name == "baseline" else f"{name} (seed {seed})"
        try:
            model, fit_s[kind] = fit_model(cfg["kind"], cfg, train, val, work / kind.replace(" ", "_")
                                           / "model", seed=seed)
        except ImportError as err:  # the baseline lands on main separately
            print(f"skipping {kind}: {err}", file=sys.stderr)
            continue
        nll[kind] = model.nll_breakdown(hold) if hasattr(model, "nll_breakdown") \
            else {"total": model.nll_per_event(hold)}
        tl = model.sample(args.synthetic_users, data.days, data.start, seed=1)
        rec = tl.to_records(data.start)
        rows[kind] = {**first_metrics(hold.records, rec, data.days, data.days),
                      "ks_distinct_contacts": distinct_contacts_ks(
                          hold.records, pd.DataFrame({"user": tl.user, "rank": tl.contact_rank}))}
        if (name, seed) == presets[1]:
            model_dir = work / "speed" / "model"
            save_traffic_model(model, model_dir)
            runs = [(int(s), args.threads) for s in args.sizes.split(",") if s]
            runs.append((min(10000, runs[0][0] if runs else 10000), 2))  # torch's default here: 2
            for n, threads in runs:
                cmd = [sys.executable, __file__, "--threads", str(threads), "--speed", str(model_dir),
                       str(n), "7"]
                env = {**os.environ, "PYTHONPATH": str(REPO)}
                res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900, env=env)
                if res.returncode != 0:
                    print(res.stderr, file=sys.stderr)
                    continue
                speed.append({**json.loads(res.stdout.strip().splitlines()[-1]), "threads": threads})
                print(speed[-1], file=sys.stderr)
    write_report(Path(args.out), rows, nll, fit_s, speed, args, len(hold.user_ids))


def target_lines(rows: dict) -> list[str]:
    """Issue 4's "done when", checked on the fidelity table, one line per LSTM preset."""
    floor = rows["floor (train users vs holdout users)"]
    base = rows.get("baseline")
    out = []
    for name, m in rows.items():
        if m is floor or name == "baseline":
            continue
        over = [k for k in METRICS if m[k] > 2 * floor[k]]
        verdict = "yes" if not over else "no (" + ", ".join(over) + ")"
        parts = [f"within 2x of the floor on all of first_metrics: {verdict}"]
        if base:
            closer = all(m[k] < base[k] for k in ("ks_inter_event", "ks_events_per_user_day"))
            parts.append("closer than the baseline on inter-event times and events/user/day: "
                         + ("yes" if closer else "no"))
            parts.append("hour-of-day / hour-of-week JSD vs baseline: "
                         f"{m['jsd_hour_of_day']:.4f} vs {base['jsd_hour_of_day']:.4f} / "
                         f"{m['jsd_hour_of_week']:.4f} vs {base['jsd_hour_of_week']:.4f}")
        out.append(f"- **{name}**: " + "; ".join(parts) + ".")
    return out


def write_report(path: Path, rows: dict, nll: dict, fit_s: dict, speed: list, args, n_hold: int) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    floor = rows["floor (train users vs holdout users)"]
    cols = list(METRICS) + ["ks_distinct_contacts"]
    lines = [
        "# Traffic model: LSTM vs Poisson baseline vs real-vs-real floor",
        "",
        f"Produced by `python scripts/bench_traffic.py` (commit {commit}, model presets "
        f"`configs/model/{{{args.models}}}.yaml`, trainer `configs/trainer/default.yaml`, training seeds "
        f"{args.seeds}) on a "
        f"2-core x86 VM shared with other jobs ({platform.processor() or platform.machine()}), CPU only, "
        f"torch {torch.__version__} with {args.threads} intra-op thread(s).",
        "",
        f"Data: Copenhagen calls + SMS (two-sided records), users split 60/15/25 % (seed 0); models fit "
        f"on the training users, early-stopped on validation users; everything below is against the "
        f"{n_hold} held-out users.",
        "",
        "## Held-out NLL per event (nats)",
        "",
        "LSTM: event times (density of each gap in seconds, plus the survival term from the last event "
        "to the window end) + event kind (call/sms x out/in) + call outcome (missed / 0 s / > 0 s) + "
        "duration (density in seconds, positive calls) + contact rank; each user conditioned on the "
        "profile computed from their own records. Baseline: its own `nll_per_event` (see "
        "`zen/traffic/baseline.py` for what it covers).",
        "",
        "The column **time + kind** covers the same events and marks for both models (the baseline's "
        "NLL is times + type x direction, each user with their own rate and mix): compare there.",
        "",
        "| model | **time + kind** | total | " + " | ".join(HEADS) + " | fit (s) |",
        "|---|---|---|" + "---|" * len(HEADS) + "---|",
    ]
    for kind, parts in nll.items():
        cells = [f"{parts[k]:.3f}" if k in parts else "-" for k in HEADS]
        comparable = parts["time"] + parts["kind"] if "time" in parts else parts["total"]
        lines.append(f"| {kind} | **{comparable:.3f}** | {parts['total']:.3f} | " + " | ".join(cells)
                     + f" | {fit_s[kind]:.0f} |")
    if "baseline" not in nll:
        lines.append("| baseline | not run: `zen.traffic.baseline` is not in this checkout |")
    lines += [
        "",
        "## Fidelity against the held-out users (issue 2's `first_metrics`; lower is better)",
        "",
        f"Generated: {args.synthetic_users} new users x 28 days from the study start (seed 1). "
        "`ks_distinct_contacts` (extra, not in `first_metrics`): distinct contact ranks per generated "
        "user vs distinct counterparts per real user. In brackets: ratio to the floor.",
        "",
        "| source | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for name, m in rows.items():
        cells = [f"{m[c]:.4f}" + ("" if m is floor else f" ({m[c] / max(floor[c], 1e-12):.1f}x)")
                 for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Generation speed ({args.models.split(',')[0]}, 7 days, one process per size)",
        "",
        "user-steps = LSTM evaluations (events + one final draw per user past the horizon); finished "
        "users leave the batch, so cost follows events.",
        "",
        "| users | threads | events | seconds | user-steps/s | events/s | peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in speed:
        lines.append(f"| {s['users']:,} | {s['threads']} | {s['events']:,} | {s['seconds']:.1f} | "
                     f"{s['user_steps'] / s['seconds']:,.0f} | {s['events'] / s['seconds']:,.0f} | "
                     f"{s['peak_rss_mib']:.0f} |")
    lines += [
        "",
        "## Notes",
        "",
        "- Floor = the training users' real records against the held-out users' (same 28 days); the "
        "generated populations are larger (2000 users), so their own sampling noise is smaller than "
        "the floor's.",
        "- Times and durations are sampled in whole seconds, as CDRs (and the Copenhagen data) record "
        "them; a continuous sample scores a call-duration KS of about 2x the floor only because of "
        "the real data's integer ties.",
        "- One intra-op thread: on this shared 2-core VM, torch's default of 2 threads makes the "
        "small per-step tensors of training and sampling much slower when other jobs hold the cores "
        "(compare the 2-thread row; an earlier run while the VM was busy measured 104 s with 2 threads "
        "vs 1.8 s with 1 for 1,000 users). Speed rows are single runs on a shared machine; expect "
        "+-30 % and more.",
        "- Training seeds move the LSTM's metrics noticeably (see the per-seed rows): read the spread, "
        "not one row.",
    ]
    lines += ["", "## Issue 4 targets", ""] + target_lines(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(path.read_text())


if __name__ == "__main__":
    main()
