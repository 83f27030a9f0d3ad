"""Figures of an evaluation: synthetic (orange) against real held-out (blue) and real training (grey).

Each function returns one matplotlib figure (Agg backend, no display needed).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zen.data.base import CDRData  # noqa: E402
from zen.evaluation import graph  # noqa: E402
from zen.evaluation.metrics import (  # noqa: E402
    call_durations,
    hour_of_day_profile,
    hour_of_week_profile,
    inter_event_times,
)

STYLE = {"candidate": dict(color="tab:orange", lw=2), "real": dict(color="tab:blue", lw=2),
         "train": dict(color="0.5", lw=1.2, ls="--")}
LOG_SCALE = {"events_per_day", "calls_per_day", "sms_per_day", "data_per_day", "inter_event_median_s",
             "call_duration_mean_s", "distinct_contacts", "distinct_cells", "radius_of_gyration_m"}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG image, read from its header."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _ecdf(ax, values: np.ndarray, label: str, style: dict, log: bool = False) -> None:
    values = np.sort(np.asarray(values, float)[np.isfinite(values)])
    if log:
        values = values[values > 0]
    if len(values):
        ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=label, **style)
    if log:
        ax.set_xscale("log")


def _samples(candidate: CDRData, real: CDRData, train: CDRData):
    return (("candidate", candidate), ("real", real), ("train", train))


def individual_cdfs(candidate: CDRData, real: CDRData, train: CDRData) -> Figure:
    """Empirical CDFs of every individual feature present on both compared sides."""
    names = [c for c in candidate.features.columns if c in real.features.columns
             and np.isfinite(real.features[c]).any()]
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for key, sample in _samples(candidate, real, train):
            if name in sample.features:
                _ecdf(ax, sample.features[name].to_numpy(), sample.label, STYLE[key], name in LOG_SCALE)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("share of users")
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Individual features: CDF over users")
    fig.tight_layout()
    return fig


def hourly_profiles(candidate: CDRData, real: CDRData, train: CDRData) -> Figure:
    """Hour-of-day and hour-of-week shares of events, per event type present."""
    kinds = ["all"] + sorted(set(candidate.event_types()) | set(real.event_types()))
    fig, axes = plt.subplots(len(kinds), 2, figsize=(16, 2.6 * len(kinds)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 3]})
    for row, kind in zip(axes, kinds, strict=True):
        for key, sample in _samples(candidate, real, train):
            rec = sample.records if kind == "all" else sample.records[sample.records["event"] == kind]
            for ax, profile in zip(row, (hour_of_day_profile, hour_of_week_profile), strict=True):
                p = profile(rec)
                if p.sum() > 0:
                    ax.plot(p / p.sum(), label=sample.label, **STYLE[key])
        row[0].set_ylabel(f"{kind}: share")
        row[0].set_xlabel("hour of day (UTC)")
        row[1].set_xlabel("hour of week (Mon 00h = 0)")
        for d in range(1, 7):
            row[1].axvline(24 * d, color="0.85", lw=0.8, zorder=0)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Hourly profiles")
    fig.tight_layout()
    return fig


def global_distributions(candidate: CDRData, real: CDRData, train: CDRData) -> Figure:
    """Pooled inter-event times and call durations; degree CCDF and local clustering."""
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.6))
    for key, sample in _samples(candidate, real, train):
        _ecdf(axes[0], inter_event_times(sample.records), sample.label, STYLE[key], log=True)
        _ecdf(axes[1], call_durations(sample.records), sample.label, STYLE[key], log=True)
        deg = np.sort(graph.degrees(sample.records))
        deg = deg[deg > 0]
        if len(deg):
            axes[2].step(deg, 1.0 - np.arange(len(deg)) / len(deg), where="post", label=sample.label,
                         **STYLE[key])
        _ecdf(axes[3], graph.clustering(sample.records), sample.label, STYLE[key])
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    titles = ("inter-event time (s), CDF", "answered call duration (s), CDF", "degree, CCDF",
              "local clustering (induced graph), CDF")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def usefulness(details: dict, scores: dict[str, float], thresholds: list[float],
               candidate_label: str, real_label: str) -> Figure:
    """RAN power savings curves, anomaly detection TSTR vs TRTR, population tracing series."""
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8), gridspec_kw={"width_ratios": [1, 1, 1, 2.2]})
    for key, label, ran in (("candidate", candidate_label, details["ran_candidate"]),
                            ("real", real_label, details["ran_real"])):
        axes[0].plot(thresholds, [ran[t][0] for t in thresholds], marker="o", label=label, **STYLE[key])
        axes[1].plot(thresholds, [ran[t][1] for t in thresholds], marker="o", label=label, **STYLE[key])
    axes[0].set(title="RAN: energy saved (share of unit-hours off)", xlabel="threshold (x peak load)")
    axes[1].set(title="RAN: traffic affected", xlabel="threshold (x peak load)")
    axes[0].legend(fontsize=8)
    measures = ("precision", "recall", "f1")
    x = np.arange(len(measures))
    for shift, (name, color) in zip((-0.2, 0.2), (("tstr", "tab:orange"), ("trtr", "tab:blue")), strict=True):
        axes[2].bar(x + shift, [scores[f"usefulness/anomaly/{name}_{m}"] for m in measures], width=0.4,
                    color=color, label=name.upper())
    axes[2].set_xticks(x, measures)
    axes[2].set(title="Anomaly detection on real test", ylim=(0, 1))
    axes[2].legend(fontsize=8)
    axes[3].plot(details["population_real"].sum(axis=0), label=real_label, **STYLE["real"])
    axes[3].plot(details["population_candidate"].sum(axis=0), label=candidate_label, **STYLE["candidate"])
    axes[3].set(title=f"Population tracing: users present per user, summed over {details['unit_kind']}s",
                xlabel="hour of week")
    axes[3].legend(fontsize=8)
    for ax in axes[:2]:
        ax.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def privacy(details: dict, candidate_label: str, real_label: str) -> Figure:
    """Distance to the closest training user: synthetic users vs held-out real users."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    both = np.concatenate([details["dcr_candidate"], details["dcr_holdout"]])
    bins = np.linspace(0, np.nanpercentile(both, 99) if len(both) else 1, 40)
    ax.hist(details["dcr_holdout"], bins=bins, density=True, alpha=0.5, color="tab:blue",
            label=f"{real_label} -> train")
    ax.hist(details["dcr_candidate"], bins=bins, density=True, alpha=0.5, color="tab:orange",
            label=f"{candidate_label} -> train")
    ax.set(title="Distance to closest training user (standardised features)", xlabel="distance")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def summary(rows: list[dict]) -> Figure:
    """One bar per distance score (KS/TV): synthetic value, floor marker, green = pass, red = fail."""
    rows = [r for r in rows if r["name"].endswith(("/ks", "/tv")) and np.isfinite(r["value"])]
    fig, ax = plt.subplots(figsize=(10, 0.28 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    colors = ["tab:green" if r["passed"] else ("tab:red" if r["passed"] is False else "0.6") for r in rows]
    ax.barh(y, [r["value"] for r in rows], color=colors)
    ax.scatter([r["floor"] for r in rows], y, marker="|", s=200, color="black", label="real-vs-real floor",
               zorder=3)
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=8)
    ax.set(xlabel="distance (0 = identical)", xlim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Fidelity at a glance (green: within threshold of the floor)")
    fig.tight_layout()
    return fig


def report_figures(synthetic: CDRData, real: CDRData, train: CDRData, scores: dict,
                   useful: dict | None, private: dict | None,
                   ran_thresholds: list[float]) -> dict[str, Figure]:
    """Every figure of a ``zen-evaluate`` report (name -> figure): the individual CDFs, hourly
    profiles and global distributions; the cell maps and mobility CCDFs when both sides have
    cells; the usefulness and privacy panels when those tasks ran."""
    from zen.evaluation.mobility import density_maps, mobility_ccdfs

    figures = {"individual_cdfs": individual_cdfs(synthetic, real, train),
               "hourly_profiles": hourly_profiles(synthetic, real, train),
               "global_distributions": global_distributions(synthetic, real, train)}
    if synthetic.has_cells and real.has_cells:
        figures["cell_density_maps"] = density_maps([real, synthetic, train])
        figures["cell_mobility_ccdfs"] = mobility_ccdfs([real, synthetic, train])
    if useful is not None:
        figures["usefulness"] = usefulness(useful, scores, ran_thresholds, synthetic.label, real.label)
    if private is not None:
        figures["privacy"] = privacy(private, synthetic.label, real.label)
    return figures
