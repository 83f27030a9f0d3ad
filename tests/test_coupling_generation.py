"""zen-train data=hangzhou fits coupling.json and the activity-aware serving table (mobility.json);
zen-generate uses both by default and coupling=none is today's independent output byte for byte;
zen-evaluate reports the coupling rows with a floor.
Small: the baseline traffic model, a few-run mobility fit, 40 users x 3 days."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_config


def _generate(model: Path, out: Path, *extra: str) -> Path:
    from zen.stages.generate import generate

    generate(compose_config("generate", [
        f"model_dir={model}", f"out_dir={out}", "network=hangzhou", "n_users=40", "days=3",
        "start_date=2012-08-16", "progress=false", "device=cpu", "workers=1", *extra]))
    return out


def _record_bytes(folder: Path) -> dict[str, bytes]:
    files = sorted((folder / "records").rglob("*.parquet"))
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def run(tmp_path_factory, hangzhou_model_dir):
    root = tmp_path_factory.mktemp("coupling")
    serving = root / "model-serving-only"  # the activity-aware serving table, no coupling.json
    shutil.copytree(hangzhou_model_dir, serving)
    (serving / "coupling.json").unlink()
    plain = root / "model-without-coupling"  # what zen-train wrote before either existed
    shutil.copytree(serving, plain)
    mobility = json.loads((plain / "mobility.json").read_text())
    assert mobility.pop("serving_activity") is not None
    (plain / "mobility.json").write_text(json.dumps(mobility))
    return {"root": root, "model": hangzhou_model_dir,
            "coupled": _generate(hangzhou_model_dir, root / "coupled"),
            "none": _generate(hangzhou_model_dir, root / "none", "coupling=none"),
            "serving": _generate(serving, root / "serving"),
            "today": _generate(plain, root / "today")}


def test_train_writes_a_json_coupling_model(run):
    from zen.coupling import CouplingModel

    path = run["model"] / "coupling.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == "zen-coupling/1"
    assert doc["mobility_states"] == ["home", "work", "elsewhere", "moving"]
    model = CouplingModel.load(path)
    assert model.chain.trans.shape == (3, 6, 12, 12)
    np.testing.assert_allclose(model.chain.trans.sum(axis=3), 1.0)
    metrics = json.loads((run["model"] / "model.json").read_text())["metrics"]
    assert metrics["coupling/fitted"] == 1.0


def test_coupling_none_is_todays_output_byte_for_byte(run):
    today, none = _record_bytes(run["today"]), _record_bytes(run["none"])
    assert today and today == none
    for table in ("users.parquet", "edges.parquet", "antennas.parquet"):
        assert (run["today"] / table).read_bytes() == (run["none"] / table).read_bytes()


def test_coupling_changes_when_events_fall_but_keeps_their_number(run):
    from zen.io.dataset import read_dataset

    coupled, today = read_dataset(run["coupled"]).records, read_dataset(run["today"]).records
    assert _record_bytes(run["coupled"]) != _record_bytes(run["today"])
    assert abs(len(coupled) - len(today)) < 0.15 * len(today)  # per-user totals kept in expectation
    manifest = json.loads((run["coupled"] / "manifest.json").read_text())
    assert "coupling" in manifest["timings_s"] and manifest["config"]["coupling"] == "auto"


def test_activity_aware_serving_changes_cells_only(run):
    from zen.io.dataset import read_dataset

    serving, today = read_dataset(run["serving"]).records, read_dataset(run["today"]).records
    keys = ["user_id", "timestamp", "event", "direction"]
    assert serving[keys].equals(today[keys])  # the same events: the table only changes where they are seen
    changed = (serving["cell_id"].to_numpy() != today["cell_id"].to_numpy()).mean()
    assert 0.05 < changed < 0.95


def test_evaluate_reports_the_coupling_section_beside_the_floor(run):
    from zen.stages.evaluate import evaluate

    out = run["root"] / "report"
    evaluate(compose_config("evaluate", [
        "data=hangzhou", f"synthetic={run['coupled']}", f"out_dir={out}",
        "tasks.usefulness=false", "tasks.privacy=false"]))
    doc = json.loads((out / "metrics.json").read_text())
    for row in ("coupling/corr_mad", "coupling/mi_mad"):
        assert doc["synthetic"][row] is not None and doc["floor"][row] is not None, row
