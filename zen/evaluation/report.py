"""Pass/fail judgement, the summary table and the report folder (metrics.json, PNGs, Markdown, HTML,
TensorBoard), written all at once: the folder appears complete or not at all.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

SECTIONS = ("individual", "global", "conversation", "sessions", "graph", "cells", "coupling", "usefulness",
            "privacy")


@dataclass
class Thresholds:
    """When a score passes (see :func:`judge`)."""

    floor_factor: float = 2.0          # a fidelity distance passes when <= floor_factor * floor + margin
    margin: float = 0.02               # absolute slack on the floor rule
    usefulness_gap_max: float = 0.10   # task-result gaps (shares, F1) always pass up to this
    corr_min: float = 0.8              # population tracing: least Pearson correlation with real
    dcr_ratio_min: float = 0.8         # privacy: median DCR of synthetic / of held-out real users
    mia_auc_max: float = 0.6           # privacy: membership-inference AUC (0.5 = no leak)
    exact_copy_share_max: float = 0.0  # privacy: share of synthetic users copying a training user
    whitebox_auc_max: float = 0.55     # privacy: white-box (model likelihood) membership AUC
    tpr_at_1fpr_max: float = 0.02      # privacy: attacks' true-positive rate at 1 % false positives


@dataclass
class Evaluation:
    """Everything a report shows. ``scores``/``floor``: metric name -> value (NaN when absent)."""

    scores: dict[str, float]
    floor: dict[str, float]
    skipped: dict[str, str]
    thresholds: Thresholds
    inputs: dict
    figures: dict[str, Figure] = field(default_factory=dict)


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, float | int) and math.isfinite(x)


def judge(name: str, value: float, floor: float | None, th: Thresholds) -> bool | None:
    """Pass (True), fail (False) or not judged (None) for one score (see :func:`_rule`)."""
    verdict = _rule(name, value, floor, th)
    return None if verdict is None else bool(verdict)


def _rule(name: str, value: float, floor: float | None, th: Thresholds) -> bool | None:
    """Fidelity distances pass within ``floor_factor * floor + margin``; usefulness gaps within
    ``max(usefulness_gap_max, floor rule)``; privacy scores against fixed limits.
    """
    if not _finite(value):
        return None
    floor_rule = th.floor_factor * floor + th.margin if _finite(floor) else None
    if name.startswith("privacy/"):
        limits = {"privacy/dcr_ratio": lambda v: v >= th.dcr_ratio_min,
                  "privacy/mia_auc": lambda v: v <= th.mia_auc_max,
                  "privacy/exact_copy_share": lambda v: v <= th.exact_copy_share_max,
                  "privacy/whitebox_auc": lambda v: v <= th.whitebox_auc_max,
                  "privacy/lr_auc": lambda v: v <= th.mia_auc_max,
                  "privacy/whitebox_tpr_at_1fpr": lambda v: v <= th.tpr_at_1fpr_max,
                  "privacy/lr_tpr_at_1fpr": lambda v: v <= th.tpr_at_1fpr_max}
        return limits[name](value) if name in limits else None
    if name.startswith("usefulness/"):
        if name.count("/") != 2:
            return None
        if name.endswith("_gap"):
            return value <= max(th.usefulness_gap_max, floor_rule or 0.0)
        if name.endswith("/corr"):
            return value >= th.corr_min
        if name.endswith("/decision_agreement"):
            return value >= (floor - th.usefulness_gap_max if _finite(floor) else 1 - th.usefulness_gap_max)
        if name.endswith("/nrmse"):
            return None if floor_rule is None else value <= floor_rule
        return None
    if name.split("/")[0] in ("individual", "global", "conversation", "sessions", "graph", "cells",
                              "coupling"):
        return None if floor_rule is None else value <= floor_rule
    return None


def summary_rows(ev: Evaluation) -> list[dict]:
    """One row per reported score: name, section, value, floor, passed (first/ and task details left out)."""
    rows = []
    for name, value in ev.scores.items():
        section = name.split("/")[0]
        if section not in SECTIONS or (section == "usefulness" and name.count("/") != 2):
            continue
        floor = ev.floor.get(name, float("nan"))
        rows.append({"name": name, "section": section, "value": value, "floor": floor,
                     "passed": judge(name, value, floor, ev.thresholds)})
    return rows


def overall(ev: Evaluation) -> dict[str, float]:
    from zen.evaluation.fidelity import overall_score

    return {"overall_score": overall_score(ev.scores), "floor_overall_score": overall_score(ev.floor)}


def metrics_document(ev: Evaluation, rows: list[dict]) -> dict:
    """The content of ``metrics.json``."""
    def clean(d: dict) -> dict:
        return {k: (v if _finite(v) else None) for k, v in d.items()}

    judged = [r for r in rows if r["passed"] is not None]
    return {**clean(overall(ev)),
            "pass_count": sum(r["passed"] for r in judged),
            "fail_count": sum(not r["passed"] for r in judged),
            "synthetic": clean(ev.scores), "floor": clean(ev.floor),
            "passed": {r["name"]: r["passed"] for r in judged},
            "skipped": ev.skipped,
            "first_metrics": clean({k[len("first/"):]: v for k, v in ev.scores.items()
                                    if k.startswith("first/")}),
            "thresholds": vars(ev.thresholds), "inputs": ev.inputs}


def guarantee_line(ev: Evaluation) -> str | None:
    """One sentence on the model's formal privacy guarantee (from its ``model.json``), shown at
    the head of the privacy section beside the audits' empirical lower bounds."""
    dp = ev.inputs.get("privacy")
    if not dp:
        return None
    lower = [ev.scores.get(f"privacy/{a}_eps_lower") for a in ("whitebox", "lr")]
    lower = max((x for x in lower if _finite(x)), default=float("nan"))
    if not dp.get("private"):
        return (f"Formal guarantee: none (trained without differential privacy, epsilon = inf). "
                f"Empirical lower bound on epsilon from the audits: {_fmt(lower)}.")
    gaps = "; ".join(dp.get("not_private", [])) or "none"
    return (f"Formal guarantee: ({_fmt(dp['epsilon'])}, {dp['delta']:.2g})-DP per {dp.get('unit', 'user')} "
            f"(accountant {dp.get('accountant')}, noise multiplier {_fmt(dp.get('noise_multiplier'))}); "
            f"empirical lower bound from the audits: {_fmt(lower)}. Not covered: {gaps}.")


def _fmt(x: float) -> str:
    if not _finite(x):
        return "n/a"
    return f"{x:.4f}" if abs(x) < 1000 else f"{x:.4g}"


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "-"}[passed]


def terminal_table(ev: Evaluation, rows: list[dict]) -> str:
    """A short text table: the overall score and every judged KS/TV/scalar score."""
    o = overall(ev)
    lines = [f"overall score (1 = identical): synthetic {_fmt(o['overall_score'])}   "
             f"real-vs-real floor {_fmt(o['floor_overall_score'])}",
             f"{'metric':<48} {'synthetic':>10} {'floor':>10}  verdict"]
    for r in rows:
        if r["passed"] is None or (r["passed"] and r["name"].endswith(("/w1", "/jsd"))):
            continue  # every failing row is listed: the count below counts them
        value, floor = _fmt(r["value"]), _fmt(r["floor"])
        lines.append(f"{r['name']:<48} {value:>10} {floor:>10}  {_verdict(r['passed'])}")
    judged = [r for r in rows if r["passed"] is not None]
    lines.append(f"{sum(r['passed'] for r in judged)} pass, {sum(not r['passed'] for r in judged)} fail")
    return "\n".join(lines)


def markdown(ev: Evaluation, rows: list[dict], images: list[str]) -> str:
    o = overall(ev)
    out = ["# Zen evaluation report", "",
           f"Synthetic `{ev.inputs.get('synthetic')}` against real `{ev.inputs.get('real')}`; the floor is "
           "the same metric between the real training and held-out users (what a perfect generator "
           "reaches on this data).", "",
           f"**Overall score** (mean of 1 - KS and 1 - TV, 1 = identical): synthetic "
           f"**{_fmt(o['overall_score'])}**, floor {_fmt(o['floor_overall_score'])}.", "",
           "| metric | synthetic | floor | verdict |", "|---|---:|---:|---|"]
    out += [f"| {r['name']} | {_fmt(r['value'])} | {_fmt(r['floor'])} | {_verdict(r['passed'])} |"
            for r in rows]
    if guarantee_line(ev):
        out += ["", "## Privacy guarantee", "", guarantee_line(ev)]
    if ev.skipped:
        out += ["", "## Skipped or partial", ""] + [f"- `{k}`: {v}" for k, v in ev.skipped.items()]
    out += ["", "## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images]
    return "\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1400px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.pass td.v{background:#d8f0d8}
tr.fail td.v{background:#f6d0d0}.big{font-size:22px}.cards{display:flex;gap:16px;margin:12px 0}
.card{padding:10px 16px;border-radius:8px;background:#f3f3f3}.card.bad{background:#f6d0d0}
.card.good{background:#d8f0d8}img{max-width:100%;margin:8px 0;border:1px solid #eee}h2{margin-top:28px}"""


def html_report(ev: Evaluation, rows: list[dict], pngs: dict[str, bytes]) -> str:
    """A self-contained HTML page (plots embedded as base64)."""
    o = overall(ev)
    judged = [r for r in rows if r["passed"] is not None]
    n_pass, n_fail = sum(r["passed"] for r in judged), sum(not r["passed"] for r in judged)
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Zen evaluation</title>"
             f"<style>{_CSS}</style></head><body><h1>Zen evaluation report</h1>",
             f"<p>Synthetic <code>{esc(str(ev.inputs.get('synthetic')))}</code> against real "
             f"<code>{esc(str(ev.inputs.get('real')))}</code>. Distances: 0 = identical. The <b>floor</b> is "
             "the same metric between real training and real held-out users: what a perfect generator "
             "reaches on this data. Green rows are within the threshold of the floor, red rows are not.</p>",
             "<div class='cards'>",
             f"<div class='card'><div>overall score (1 = identical)</div><div class='big'>"
             f"{_fmt(o['overall_score'])}</div><div>floor {_fmt(o['floor_overall_score'])}</div></div>",
             f"<div class='card good'><div>pass</div><div class='big'>{n_pass}</div></div>",
             f"<div class='card {'bad' if n_fail else 'good'}'><div>fail</div><div class='big'>{n_fail}"
             "</div></div></div>"]
    parts.append(_overview(rows))
    if "summary" in pngs:
        parts.append(_img("summary", pngs["summary"]))
    for section in SECTIONS:
        srows = [r for r in rows if r["section"] == section]
        if not srows:
            continue
        parts.append(f"<h2>{section}</h2>")
        if section == "privacy" and guarantee_line(ev):
            parts.append(f"<p>{esc(guarantee_line(ev))}</p>")
        parts.append("<table><tr><th>metric</th><th>synthetic</th><th>floor</th><th>verdict</th></tr>")
        for r in srows:
            cls = {True: "pass", False: "fail", None: ""}[r["passed"]]
            parts.append(_html_row(r, cls))
        parts.append("</table>")
    if ev.skipped:
        parts.append("<h2>Skipped or partial</h2><ul>" + "".join(
            f"<li><code>{esc(k)}</code>: {esc(v)}</li>" for k, v in ev.skipped.items()) + "</ul>")
    parts.append("<h2>Plots</h2>")
    parts += [_img(name, data) for name, data in pngs.items() if name != "summary"]
    inputs = esc(json.dumps(ev.inputs, indent=2, default=str))
    parts.append(f"<h2>Inputs</h2><pre>{inputs}</pre></body></html>")
    return "\n".join(parts)


def _html_row(r: dict, cls: str) -> str:
    return (f"<tr class='{cls}'><td>{html.escape(r['name'])}</td><td class='n v'>{_fmt(r['value'])}</td>"
            f"<td class='n'>{_fmt(r['floor'])}</td><td class='v'>{_verdict(r['passed'])}</td></tr>")


def _overview(rows: list[dict]) -> str:
    """Per-section pass/fail counts and the failing scores, worst first (by how far past the floor)."""
    out = ["<h2>At a glance</h2><table><tr><th>section</th><th>pass</th><th>fail</th><th>failing</th></tr>"]
    for section in SECTIONS:
        judged = [r for r in rows if r["section"] == section and r["passed"] is not None]
        if not judged:
            continue
        failing = [r for r in judged if not r["passed"]]
        failing.sort(key=lambda r: -(r["value"] / r["floor"]) if _finite(r["floor"]) and r["floor"] > 0
                     else -math.inf)
        names = ", ".join(html.escape(r["name"].split("/", 1)[1]) for r in failing) or "none"
        cls = "fail" if failing else "pass"
        out.append(f"<tr class='{cls}'><td class='v'>{section}</td><td class='n'>{len(judged) - len(failing)}"
                   f"</td><td class='n v'>{len(failing)}</td><td>{names}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _img(name: str, data: bytes) -> str:
    return (f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' "
            f"src='data:image/png;base64,{base64.b64encode(data).decode()}'>")


def _tensorboard(folder: Path, ev: Evaluation, pngs: dict[str, bytes]) -> None:
    """Scalars ``eval/<metric>`` (floor: ``eval_floor/<metric>``) and figures as images ``eval/<name>``.

    Written with tensorboard's own event writer (no torch import: evaluation stays light).
    """
    import time

    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    from zen.evaluation.plots import png_size

    values = []
    for prefix, scores in (("eval", {**ev.scores, **overall(ev)}), ("eval_floor", ev.floor)):
        values += [Summary.Value(tag=f"{prefix}/{name}", simple_value=float(value))
                   for name, value in scores.items() if _finite(value)]
    for name, data in pngs.items():
        width, height = png_size(data)
        image = Summary.Image(height=height, width=width, colorspace=4, encoded_image_string=data)
        values.append(Summary.Value(tag=f"eval/{name}", image=image))
    writer = EventFileWriter(str(folder))
    writer.add_event(Event(wall_time=time.time(), step=0, summary=Summary(value=values)))
    writer.close()


REPORT_MARKER = ".zen-report.json"  # the files a report folder holds, all written by Zen


def report_files(out_dir: Path) -> list[Path]:
    """The files of the report in ``out_dir`` that Zen wrote (none when it is not a Zen report)."""
    marker = out_dir / REPORT_MARKER
    if not marker.is_file():
        return []
    from zen.io.model_files import read_json

    listed = read_json(marker, "the report's file list").get("files", [])
    return [out_dir / name for name in listed] + [marker]


def check_report_dir(out_dir: Path) -> Path:
    """``out_dir`` resolved, once it is known that writing the report there deletes nothing of the
    user's: it is new, empty, or a report Zen wrote and nothing else."""
    from zen.io.ownership import check_out_dir, refuse_foreign

    out_dir = check_out_dir(out_dir)
    if out_dir.is_dir():
        refuse_foreign(out_dir, report_files(out_dir), "out_dir", "report files")
    return out_dir


def write_report(ev: Evaluation, out_dir: str | Path) -> dict:
    """Write metrics.json, <figure>.png, report.md, report.html and tensorboard/ into ``out_dir``.

    Everything is built in a temporary folder beside ``out_dir`` and renamed into place at the end.
    An older report there is replaced, file by file from its ``.zen-report.json`` list; a folder
    holding anything Zen did not write is refused (:func:`check_report_dir`). A failure leaves the
    old folder (or none) untouched.

    Returns:
        The metrics document written to ``metrics.json``.
    """
    import io

    from zen.io.ownership import remove_owned

    out_dir = check_report_dir(Path(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        rows = summary_rows(ev)
        from zen.evaluation.plots import summary

        ev.figures = {"summary": summary(rows), **ev.figures}
        pngs = {}
        for name, fig in ev.figures.items():
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=90)
            pngs[name] = buffer.getvalue()
            (tmp / f"{name}.png").write_bytes(pngs[name])
        document = metrics_document(ev, rows)
        (tmp / "metrics.json").write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
        (tmp / "report.md").write_text(markdown(ev, rows, [f"{n}.png" for n in pngs]))
        (tmp / "report.html").write_text(html_report(ev, rows, pngs))
        _tensorboard(tmp / "tensorboard", ev, pngs)
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        (tmp / REPORT_MARKER).write_text(json.dumps({"written_by": "zen-evaluate", "files": files}, indent=1))
        if out_dir.exists():
            remove_owned(out_dir, report_files(check_report_dir(out_dir)))
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return document
