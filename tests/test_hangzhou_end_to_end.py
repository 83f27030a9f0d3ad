"""zen-train data=hangzhou -> zen-generate network=hangzhou -> zen-evaluate, small (default test run).

The baseline traffic model and a two-parameter, few-run mobility fit keep it quick; the full
calibration and its numbers are in experiments/mobility_real.md.
"""

from __future__ import annotations

import json

import pytest
from conftest import compose_config


@pytest.fixture(scope="module")
def hangzhou_run(tmp_path_factory, hangzhou_model_dir):
    from zen.stages.evaluate import evaluate
    from zen.stages.generate import generate

    root = tmp_path_factory.mktemp("hangzhou-run")
    generate(compose_config("generate", [
        f"model_dir={hangzhou_model_dir}", f"out_dir={root / 'dataset'}", "network=hangzhou", "n_users=40",
        "days=3", "start_date=2012-08-16", "progress=false", "device=cpu"]))
    evaluate(compose_config("evaluate", [
        "data=hangzhou", f"synthetic={root / 'dataset'}", f"out_dir={root / 'report'}",
        "tasks.usefulness=false", "tasks.privacy=false"]))
    return root


def test_model_says_what_was_fitted(hangzhou_model_dir):
    model = hangzhou_model_dir
    report = json.loads((model / "mobility_calibration.json").read_text())
    assert report["source"] == "cells" and set(report["fitted"]) == {"serving_main_prob"}
    assert set(report["standard_error"]) == set(report["fitted"])
    mobility = json.loads((model / "mobility.json").read_text())
    assert mobility["serving_main_prob"] == pytest.approx(report["fitted"]["serving_main_prob"])
    assert mobility["serving_activity"]["keep"] == report["serving_activity"]["keep"]  # the fitted table
    assert len(mobility["serving_activity"]["keep"]) == len(mobility["serving_activity"]["gap_edges_s"]) + 1
    metrics = json.loads((model / "model.json").read_text())["metrics"]
    assert metrics["social/fitted_on_own_data"] == 0.0 and metrics["mobility/calibrated"] == 1.0


def test_report_has_every_cell_level_row_with_its_floor(hangzhou_run):
    doc = json.loads((hangzhou_run / "report" / "metrics.json").read_text())
    rows = ["individual/radius_of_gyration_m/ks", "individual/distinct_cells/ks",
            "individual/cell_entropy/ks",
            "cells/top_cell_share/ks", "cells/jump_length_m/ks", "cells/events_per_cell_hour/ks",
            "cells/cluster_density/tv", "cells/od_flows/tv", "cells/away_share_by_hour/mean_abs_diff"]
    for row in rows:
        assert doc["synthetic"].get(row) is not None, row
        assert doc["floor"].get(row) is not None, row
    assert not [k for k in doc["skipped"] if k.startswith("cells") or "radius" in k or "cell" in k]
    assert (hangzhou_run / "report" / "cell_density_maps.png").exists()
    assert (hangzhou_run / "report" / "cell_mobility_ccdfs.png").exists()
