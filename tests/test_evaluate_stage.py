"""The zen-evaluate stage end to end on a tiny real vs synthetic pair, and its CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from zen.cli._errors import run_stage
from zen.data import split_users
from zen.io.dataset import write_dataset
from zen.schema import ZenInputError
from zen.stages.evaluate import evaluate

REPO = Path(__file__).resolve().parents[1]


def compose_evaluate(overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(REPO / "zen" / "configs"), version_base="1.3"):
            return compose(config_name="evaluate", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def synthetic_dir(copenhagen, tmp_path_factory) -> Path:
    """'Synthetic' data: 60 validation users shifted by 2 h, one copied training user, all with cells."""
    split = split_users(copenhagen.user_ids)
    fresh = copenhagen.subset(split.val[:60]).records
    fresh = fresh.assign(timestamp=fresh["timestamp"] + pd.Timedelta(hours=2))
    copy = copenhagen.subset(split.train[:1]).records.assign(user_id=900_000)
    records = pd.concat([fresh, copy], ignore_index=True)
    records["cell_id"] = records["user_id"] % 4
    antennas = pd.DataFrame({"cell_id": np.arange(4), "site_id": np.arange(4),
                             "lat": 55.68 + 0.01 * np.arange(4), "lon": 12.57})
    root = tmp_path_factory.mktemp("synthetic") / "dataset"
    return write_dataset(root, records, copenhagen.start, copenhagen.days, antennas=antennas)


@pytest.fixture(scope="module")
def report(synthetic_dir, copenhagen_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "report"
    cfg = compose_evaluate([f"synthetic={synthetic_dir}", f"out_dir={out}",
                            f"paths.shared_data={copenhagen_dir.parent}"])
    return out, evaluate(cfg)


def test_report_files_exist_and_agree_with_metrics_json(report):
    out, returned = report
    metrics = json.loads((out / "metrics.json").read_text())
    for name, value in metrics["synthetic"].items():
        if value is not None:
            assert returned[name] == pytest.approx(value)
    assert metrics["passed"] and all(isinstance(v, bool) for v in metrics["passed"].values())
    assert 0 < metrics["overall_score"] < 1 and 0 < metrics["floor_overall_score"] <= 1
    assert set(metrics["first_metrics"]) == {"ks_inter_event", "ks_call_duration", "ks_events_per_user_day",
                                             "jsd_hour_of_week", "jsd_hour_of_day"}
    for png in ("summary", "individual_cdfs", "hourly_profiles", "global_distributions", "usefulness",
                "privacy"):
        assert (out / f"{png}.png").stat().st_size > 1000
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 6
    assert f"{metrics['overall_score']:.4f}" in html
    md = (out / "report.md").read_text()
    assert f"| global/hour_of_day/all/tv | {metrics['synthetic']['global/hour_of_day/all/tv']:.4f} |" in md


def test_tensorboard_scalars_match_metrics_json(report):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    tags = set(events.Tags()["scalars"])
    for name in ("individual/events_per_day/ks", "privacy/exact_copy_share", "overall_score"):
        value = metrics.get(name, metrics["synthetic"].get(name))
        assert events.Scalars(f"eval/{name}")[0].value == pytest.approx(value, rel=1e-6)
    assert f"eval_floor/{'global/hour_of_day/all/tv'}" in tags
    assert "eval/summary" in events.Tags()["images"]


def test_evaluation_catches_the_shift_the_copy_and_missing_cells(report):
    out, scores = report
    metrics = json.loads((out / "metrics.json").read_text())
    # shifted by 2 h: hour-of-day profile off beyond the floor; one copied user of 61 caught
    assert metrics["passed"]["global/hour_of_day/all/tv"] is False
    assert scores["privacy/exact_copy_share"] == pytest.approx(1 / 61)
    assert metrics["passed"]["privacy/exact_copy_share"] is False
    # real Copenhagen data has no cells: mobility and per-cell checks say so
    assert "holdout has none" in metrics["skipped"]["individual/radius_of_gyration_m"]
    assert "per traffic group" in metrics["skipped"]["usefulness/per_cell"]
    assert metrics["floor"]["privacy/exact_copy_share"] == 0.0


def test_missing_synthetic_folder_writes_nothing(tmp_path, copenhagen_dir):
    out = tmp_path / "report"
    cfg = compose_evaluate([f"synthetic={tmp_path / 'nope'}", f"out_dir={out}",
                            f"paths.shared_data={copenhagen_dir.parent}"])
    with pytest.raises(ZenInputError, match="dataset folder not found"):
        evaluate(cfg)
    assert list(tmp_path.iterdir()) == []


def test_run_stage_turns_input_errors_into_one_line_and_exit_2(capsys):
    def evaluate(cfg):
        raise ZenInputError("bad thing", "f.csv", 3, "timestamp")

    with pytest.raises(SystemExit) as exit_info:
        run_stage(evaluate, None)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "zen-evaluate: error: f.csv, row 3, column 'timestamp': bad thing\n"


def test_cli_missing_synthetic_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "zen.cli.evaluate", "synthetic=/nonexistent",
                             f"hydra.run.dir={tmp_path / 'run'}"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("zen-evaluate: error: /nonexistent")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not Path("/report").exists()


@pytest.mark.slow
def test_real_and_train_can_be_dataset_folders(copenhagen, synthetic_dir, tmp_path):
    split = split_users(copenhagen.user_ids)
    real = write_dataset(tmp_path / "real", copenhagen.subset(split.holdout).records, copenhagen.start,
                         copenhagen.days)
    train = write_dataset(tmp_path / "train", copenhagen.subset(split.train).records, copenhagen.start,
                          copenhagen.days)
    cfg = compose_evaluate([f"synthetic={synthetic_dir}", f"real={real}", f"train={train}",
                            "privacy_floor=null", f"out_dir={tmp_path / 'report'}"])
    scores = evaluate(cfg)
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    expected_users = {"synthetic": 61, "real": len(split.holdout), "train": len(split.train)}
    assert metrics["inputs"]["users"] == expected_users
    assert scores["privacy/exact_copy_share"] == pytest.approx(1 / 61)
    assert "privacy/floor" in metrics["skipped"]


def test_console_summary_lists_every_failing_row_it_counts():
    """Hidden rows (passing w1/JSD) never hide a failure: the FAIL lines are the fail count."""
    from zen.evaluation.report import Evaluation, Thresholds, metrics_document, summary_rows, terminal_table

    scores = {"individual/a/ks": 0.5, "individual/b/ks": 0.05, "global/c/w1": 90.0, "global/d/w1": 1.0,
              "global/e/jsd": 0.4, "global/f/jsd": 0.001, "privacy/mia_auc": 0.9, "cells/g/tv": float("nan")}
    floor = {k: (0.05 if k.endswith(("ks", "tv")) else 1.0 if k.endswith("w1") else 0.001) for k in scores}
    ev = Evaluation(scores, floor, {}, Thresholds(), {})
    rows = summary_rows(ev)
    table = terminal_table(ev, rows).splitlines()
    failing = {r["name"] for r in rows if r["passed"] is False}
    assert failing == {"individual/a/ks", "global/c/w1", "global/e/jsd", "privacy/mia_auc"}
    listed = {line.split()[0] for line in table if line.endswith("FAIL")}
    assert listed == failing
    assert table[-1] == f"{len(rows) - len(failing) - 1} pass, {len(failing)} fail"
    assert metrics_document(ev, rows)["fail_count"] == len(failing)
