"""A tiny train -> generate -> evaluate run on real Copenhagen users (default test run)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import compose_config, small_generate_config

from zen.io.dataset import read_dataset
from zen.schema import ZenInputError


def test_model_folder_is_self_contained(model_dir):
    info = json.loads((model_dir / "model.json").read_text())
    assert info["traffic_kind"] == "baseline"
    assert set(info["split"]) == {"sizes", "seed", "sha256", "ids"}  # the folder names no user
    assert sum(info["split"]["sizes"].values()) > 0 and isinstance(info["split"]["ids"], str)
    for name in ("traffic/kind.txt", "social.json", "mobility.json"):
        assert (model_dir / name).exists(), name


def test_dataset_is_consistent(dataset):
    ds = read_dataset(dataset)
    rec = ds.records
    assert ds.manifest["rows"]["records"] == len(rec) > 0
    assert set(rec["user_id"]) <= set(range(300))
    # every cell exists in antennas; every on-network counterpart is a user
    assert rec["cell_id"].isin(ds.antennas["cell_id"]).all()
    on = (rec["counterpart_id"] >= 0) & (rec["counterpart_id"] < 10**9)
    assert rec.loc[on, "counterpart_id"].isin(ds.users["user_id"]).all()
    # every on-network out call/SMS has exactly one matching in record on the other side
    out = rec[on & (rec["direction"] == "out")]
    inc = rec[on & (rec["direction"] == "in")]
    key = ["user_id", "counterpart_id", "timestamp", "event", "duration_s"]
    mirrored = out.rename(columns={"user_id": "counterpart_id", "counterpart_id": "user_id"})[key]
    assert len(out) == len(inc)
    merged = mirrored.merge(inc[key].assign(n=1), on=key, how="left")
    assert merged["n"].notna().all() and not merged.duplicated(key).any()
    assert (rec["timestamp"] >= ds.start).all()
    assert (rec["timestamp"] < ds.start + pd.Timedelta(days=3)).all()


def test_same_seed_same_records(dataset, model_dir, tmp_path):
    from zen.stages.generate import generate

    again = tmp_path / "again"
    generate(small_generate_config(model_dir, again))
    a = sorted((dataset / "records").rglob("*.parquet"))
    b = sorted((again / "records").rglob("*.parquet"))
    assert [p.relative_to(dataset) for p in a] == [p.relative_to(again) for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))


def test_killed_run_resumes_to_the_same_dataset(dataset, model_dir, tmp_path, monkeypatch):
    import zen.generation.pipeline as pipeline
    import zen.stages.generate as stage

    out = tmp_path / "resumed"
    calls = {"n": 0}
    original = pipeline.generate_shard

    def dies_on_second_shard(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "generate_shard", dies_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        stage.generate(small_generate_config(model_dir, out))
    assert not (out / "manifest.json").exists()
    monkeypatch.setattr(pipeline, "generate_shard", original)
    stage.generate(small_generate_config(model_dir, out))
    fresh = read_dataset(dataset).manifest["checksums"]
    resumed = read_dataset(out).manifest["checksums"]
    assert {k: v for k, v in fresh.items() if k.startswith("records")} == \
        {k: v for k, v in resumed.items() if k.startswith("records")}


def test_refuses_to_overwrite_a_finished_dataset(dataset, model_dir):
    from zen.stages.generate import generate

    with pytest.raises(ZenInputError, match="overwrite=true"):
        generate(small_generate_config(model_dir, dataset))


def test_evaluate_report(dataset, copenhagen_dir, tmp_path):
    from zen.stages.evaluate import evaluate

    out = tmp_path / "report"
    metrics = evaluate(compose_config("evaluate", [f"synthetic={dataset}", f"out_dir={out}",
                                         f"data.loader.path={copenhagen_dir}"]))
    saved = json.loads((out / "metrics.json").read_text())
    assert (out / "report.html").exists() and any(out.rglob("events.out.tfevents*"))
    values = [v for v in metrics.values() if isinstance(v, float)]
    assert values and np.isfinite(values).all()
    assert saved


def test_mobility_only_mode_writes_stays(model_dir, tmp_path):
    from zen.io import read_table
    from zen.stages.generate import generate

    out = tmp_path / "mobility"
    generate(small_generate_config(model_dir, out, n_users=50, days=2, mode="mobility"))
    stays = read_table(out / "stays")
    assert set(stays["user_id"]) == set(range(50)) and not (out / "records").exists()
    assert (stays["end"] > stays["start"]).all()
