"""Both traffic models conform to :class:`zen.traffic.base.TrafficModel`, the type the pipeline takes.

Each model is fitted tiny on real Copenhagen training users (seconds), saved and loaded through
the model-folder helpers, and sampled and scored through the protocol's methods only.
"""

from __future__ import annotations

import logging
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import lstm_trainer

from zen.data import split_users
from zen.traffic.base import KINDS, TrafficModel, load_traffic_model, resolve_kind, save_traffic_model
from zen.traffic.baseline import PoissonBaseline
from zen.traffic.lstm import LSTMTrafficModel

START = pd.Timestamp("2024-03-04", tz="UTC")
TINY_LSTM = {"hidden": 8, "layers": 1, "n_mix": 2, "mark_hidden": 8, "profile_components": 2, "bptt": 64,
             "eval_users": 10, "eval_days": 1.0}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def parts(copenhagen):
    s = split_users(copenhagen.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    return copenhagen.subset(s.train[:40]), copenhagen.subset(s.val[:15]), copenhagen.subset(s.holdout[:30])


@pytest.fixture(scope="module", params=sorted(KINDS))
def fitted(request, parts, tmp_path_factory):
    train, val, _ = parts
    model = PoissonBaseline() if request.param == "baseline" else LSTMTrafficModel(**TINY_LSTM)
    work = tmp_path_factory.mktemp(f"protocol-{request.param}")
    metrics = model.fit(train, val, trainer=lstm_trainer(max_epochs=2), work_dir=work / "run",
                        device=torch.device("cpu"), seed=0)
    return request.param, model, metrics, work


def same_timelines(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))


def test_conforms_and_round_trips_through_the_model_folder(fitted):
    kind, model, metrics, work = fitted
    assert isinstance(model, TrafficModel) and model.kind == kind and resolve_kind(kind) is type(model)
    assert np.isfinite(metrics["train/nll"]) and np.isfinite(metrics["val/nll"])
    save_traffic_model(model, work / "model")
    again = load_traffic_model(work / "model")
    assert type(again) is type(model) and isinstance(again, TrafficModel)
    assert same_timelines(model.sample(20, 2.0, START, seed=3), again.sample(20, 2.0, START, seed=3))


def test_sampling_follows_the_protocol(fitted):
    _, model, _, _ = fitted
    activity = model.sample_activity(25, np.random.default_rng(0))
    assert activity.shape == (25,) and np.all(activity > 0)
    tl = model.sample(25, 2.0, START, seed=1, activity=activity)
    assert len(tl) > 0 and np.all(np.diff(tl.user) >= 0) and tl.user.min() >= 0 and tl.user.max() < 25
    assert tl.t_s.min() >= 0 and tl.t_s.max() < 2 * 86400
    assert same_timelines(tl, model.sample(25, 2.0, START, seed=1, activity=activity))
    assert not same_timelines(tl, model.sample(25, 2.0, START, seed=2, activity=activity))


def test_nll_per_event_is_the_shared_measure(fitted, parts):
    """Times + type x direction marks for both kinds: finite, per event, and not the LSTM's total."""
    kind, model, _, _ = fitted
    holdout = parts[2]
    nll = model.nll_per_event(holdout)
    assert np.isfinite(nll)
    if kind == "lstm":
        heads = model.nll_breakdown(holdout)
        assert nll == pytest.approx(heads["time"] + heads["kind"])
        assert heads["total"] > nll + 1.0  # durations, outcomes and ranks are left out
    # per event: a dataset twice as long (the same users' weeks repeated) scores about the same
    twice = holdout.records.copy()
    twice["timestamp"] = twice["timestamp"] + pd.Timedelta(days=28)
    doubled = type(holdout)(pd.concat([holdout.records, twice]).sort_values(["user_id", "timestamp"],
                                                                            kind="stable").reset_index(drop=True),
                            holdout.start, 2 * holdout.days)
    assert model.nll_per_event(doubled) == pytest.approx(nll, abs=0.5)


def test_lstm_fit_logs_one_line_per_epoch_with_losses(parts, tmp_path, caplog):
    """zen-train is not silent: each epoch prints its train and validation NLL."""
    train, val, _ = parts
    model = LSTMTrafficModel(**TINY_LSTM)
    with caplog.at_level(logging.INFO, logger="zen.train"):
        model.fit(train.subset(train.user_ids[:15]), val, trainer=lstm_trainer(max_epochs=2),
                  work_dir=tmp_path, device=torch.device("cpu"), seed=0)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    for line, h in zip(lines, model.history_, strict=True):
        assert f"train nll {h['train']:.4f}" in line and f"val nll {h['val']:.4f}" in line
