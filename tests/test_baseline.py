"""The Poisson baseline, fitted on real Copenhagen training users."""

from __future__ import annotations

import numpy as np
import pytest

from zen.data import split_users
from zen.evaluation.metrics import first_metrics, hour_of_week_profile, js_divergence
from zen.schema import validate
from zen.traffic.baseline import PoissonBaseline, hour_of_week


@pytest.fixture(scope="module")
def fitted(copenhagen):
    split = split_users(copenhagen.user_ids, seed=0)
    model = PoissonBaseline()
    model.fit(copenhagen.subset(split.train), seed=0)
    return model, copenhagen.subset(split.train), copenhagen.subset(split.holdout)


def test_samples_are_valid_records_and_seeded(fitted, copenhagen):
    model, _, _ = fitted
    a = model.sample(200, 7, copenhagen.start, seed=3)
    b = model.sample(200, 7, copenhagen.start, seed=3)
    c = model.sample(200, 7, copenhagen.start, seed=4)
    rec = validate(a.to_records(copenhagen.start), "records")
    assert len(rec) > 0 and (a.t_s < 7 * 86400).all() and (a.t_s >= 0).all()
    assert np.array_equal(a.t_s, b.t_s) and np.array_equal(a.contact_rank, b.contact_rank)
    assert len(a) != len(c) or not np.array_equal(a.t_s, c.t_s)


def test_beats_uniform_hour_of_week_on_holdout(fitted, copenhagen):
    model, _, holdout = fitted
    synthetic = model.sample(len(holdout.user_ids), 28, copenhagen.start, seed=1).to_records(
        copenhagen.start)
    jsd_model = first_metrics(holdout.records, synthetic, 28, 28)["jsd_hour_of_week"]
    uniform = np.ones(168)
    jsd_uniform = js_divergence(hour_of_week_profile(holdout.records), uniform)
    assert np.isfinite(jsd_model) and jsd_model < 0.5 * jsd_uniform


def test_activity_spread_follows_training_users(fitted):
    model, train, _ = fitted
    real = train.records.groupby("user_id").size().to_numpy() / train.days
    drawn = model.sample_activity(20000, np.random.default_rng(0))
    assert 0.5 < np.median(drawn) / np.median(real) < 2.0
    assert np.quantile(drawn, 0.9) / np.quantile(drawn, 0.1) > 5  # heavy and light users


def test_nll_finite_and_save_load_round_trip(fitted, tmp_path, copenhagen):
    model, _, holdout = fitted
    nll = model.nll_per_event(holdout)
    assert np.isfinite(nll)
    model.save(tmp_path)
    again = PoissonBaseline.load(tmp_path)
    assert again.nll_per_event(holdout) == pytest.approx(nll)
    a = model.sample(50, 3, copenhagen.start, seed=9)
    b = again.sample(50, 3, copenhagen.start, seed=9)
    assert np.array_equal(a.t_s, b.t_s)


def test_hour_of_week_bins():
    import pandas as pd

    start = pd.Timestamp("2013-02-06", tz="UTC")  # a Wednesday
    assert hour_of_week(np.array([0.0, 3599.0, 3600.0]), start).tolist() == [48, 48, 49]
