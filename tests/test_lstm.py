"""The LSTM traffic model on real Copenhagen users: training, sampling, save/load, resume."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import lstm_trainer

from zen.data import split_users
from zen.evaluation.metrics import hour_of_day_profile, js_divergence
from zen.schema import ZenInputError, validate
from zen.traffic import train_loop
from zen.traffic.base import load_traffic_model, resolve_kind, save_traffic_model
from zen.traffic.lstm import LSTMTrafficModel
from zen.traffic.profiles import ProfileDistribution
from zen.traffic.tokenizer import WeeklyClock, week_offset_s

TINY = {"hidden": 16, "layers": 1, "n_mix": 4, "mark_hidden": 16, "profile_components": 2,
        "bptt": 64, "eval_users": 20, "eval_days": 2.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def split(copenhagen):
    s = split_users(copenhagen.user_ids, val_fraction=0.15, holdout_fraction=0.25, seed=0)
    return copenhagen.subset(s.train[:60]), copenhagen.subset(s.val[:30]), copenhagen.subset(s.holdout)


@pytest.fixture(scope="module")
def tiny(split, tmp_path_factory):
    train, val, _ = split
    model = LSTMTrafficModel(**TINY)
    work_dir = tmp_path_factory.mktemp("run") / "model"
    metrics = model.fit(train, val, trainer=lstm_trainer(max_epochs=4, eval_every=2), work_dir=work_dir,
                        device=torch.device("cpu"), seed=0)
    return model, metrics, work_dir


def equal_timelines(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(getattr(a, f.name), getattr(b, f.name))
                                    for f in fields(a))


def test_registered_kind():
    assert resolve_kind("lstm") is LSTMTrafficModel


def test_tiny_model_learns_and_samples_valid_records(tiny, copenhagen):
    model, metrics, _ = tiny
    history = model.history_
    assert history[-1]["train"] < history[0]["train"] - 0.1
    assert np.isfinite(metrics["val/nll"])
    start = pd.Timestamp("2024-03-04", tz="UTC")
    tl = model.sample(40, days=3, start=start, seed=1)
    assert len(tl) > 0
    assert np.all((tl.t_s >= 0) & (tl.t_s < 3 * 86400))
    assert np.all(np.diff(tl.user) >= 0)
    same_user = tl.user[1:] == tl.user[:-1]
    assert np.all(np.diff(tl.t_s)[same_user] >= 0)
    assert np.all(tl.contact_rank >= 0)  # calls/SMS go to a contact rank
    assert not np.any(tl.event == 2)  # Copenhagen has no data sessions: the model emits none
    validate(tl.to_records(start), "records")


def test_training_writes_tensorboard_and_checkpoint(tiny):
    _, _, work_dir = tiny
    assert (work_dir / "checkpoints" / "last.pt").exists()
    events = list((work_dir.parent / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_save_load_sample_identical(tiny, tmp_path):
    model, _, _ = tiny
    start = pd.Timestamp("2024-03-04", tz="UTC")
    save_traffic_model(model, tmp_path)
    loaded = load_traffic_model(tmp_path)
    a = model.sample(30, days=2, start=start, seed=7)
    b = loaded.sample(30, days=2, start=start, seed=7)
    c = loaded.sample(30, days=2, start=start, seed=8)
    assert equal_timelines(a, b)
    assert not equal_timelines(a, c)


def test_activity_conditioning_and_bad_activity(tiny):
    model, _, _ = tiny
    rng = np.random.default_rng(0)
    activity = model.sample_activity(200, rng)
    assert activity.shape == (200,) and np.all(activity > 0)
    heavy = model.sample(200, days=7, start=pd.Timestamp("2024-03-04", tz="UTC"), seed=3,
                         activity=np.full(200, 20.0))
    light = model.sample(200, days=7, start=pd.Timestamp("2024-03-04", tz="UTC"), seed=3,
                         activity=np.full(200, 0.2))
    assert len(heavy) > 3 * len(light)
    with pytest.raises(ZenInputError):
        model.sample(5, days=1, start=pd.Timestamp("2024-03-04", tz="UTC"), seed=0,
                     activity=np.ones(4))


def test_nll_per_event_finite_and_lower_after_training(tiny, split):
    model, _, _ = tiny
    _, _, holdout = split
    parts = model.nll_breakdown(holdout)
    assert np.isclose(parts["total"], sum(v for k, v in parts.items() if k != "total"))
    assert np.isfinite(model.nll_per_event(holdout))


def test_load_without_weights_is_a_clear_error(tmp_path):
    with pytest.raises(ZenInputError):
        LSTMTrafficModel.load(tmp_path)


def test_kill_and_resume_equals_uninterrupted(split, tmp_path, monkeypatch):
    train, val, _ = split
    train = train.subset(train.user_ids[:30])
    cfg = lstm_trainer(max_epochs=3)
    straight = LSTMTrafficModel(**TINY)
    straight.fit(train, val, trainer=cfg, work_dir=tmp_path / "a" / "model",
                 device=torch.device("cpu"), seed=5)

    real_save = train_loop._save_checkpoint
    saves = {"n": 0}

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        saves["n"] += 1
        if saves["n"] == 2:
            raise KeyboardInterrupt("killed after the second epoch's checkpoint")

    monkeypatch.setattr(train_loop, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        LSTMTrafficModel(**TINY).fit(train, val, trainer=cfg, work_dir=tmp_path / "b" / "model",
                                     device=torch.device("cpu"), seed=5)
    monkeypatch.setattr(train_loop, "_save_checkpoint", real_save)
    resumed = LSTMTrafficModel(**TINY)
    resumed.fit(train, val, trainer=cfg, work_dir=tmp_path / "b" / "model",
                device=torch.device("cpu"), seed=5, resume=True)
    assert resumed.history_ == straight.history_
    for k, v in straight.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[k], v, rtol=0, atol=0)


def test_weekly_clock_inverse_and_profile_conditioning():
    rng = np.random.default_rng(0)
    clock = WeeklyClock(rng.uniform(0.05, 3.0, 168))
    u = torch.as_tensor(rng.uniform(0, 5 * 7 * 86400, 1000))
    torch.testing.assert_close(clock.inverse(clock.compensator(u)), u, rtol=0, atol=1e-6)
    assert week_offset_s(pd.Timestamp("2024-03-06", tz="UTC")) == 2 * 86400  # a Wednesday
    profiles = rng.multivariate_normal([0, 1, -1], [[1, .5, 0], [.5, 1, 0], [0, 0, 1]], 500)
    dist = ProfileDistribution.fit(profiles, 2, seed=0)
    drawn = dist.sample_given_activity(np.full(2000, 2.0), rng)
    assert np.all(drawn[:, 0] == 2.0)
    assert drawn[:, 1].mean() > 1.5  # positively correlated feature follows the activity


@pytest.mark.slow
def test_converged_hour_of_day_profile_beats_uniform(copenhagen, tmp_path):
    s = split_users(copenhagen.user_ids, seed=0)
    train, val = copenhagen.subset(s.train[:150]), copenhagen.subset(s.val)
    model = LSTMTrafficModel(**{**TINY, "hidden": 32})
    model.fit(train, val, trainer=lstm_trainer(max_epochs=12, patience=3), work_dir=tmp_path / "model",
              device=torch.device("cpu"), seed=0)
    tl = model.sample(300, days=14, start=copenhagen.start, seed=0)
    real = hour_of_day_profile(val.records)
    synthetic = hour_of_day_profile(tl.to_records(copenhagen.start))
    assert js_divergence(real, synthetic) < 0.5 * js_divergence(real, np.ones(24))


def test_user_profiles_on_hand_made_records():
    from zen.traffic.profiles import user_profiles

    start = pd.Timestamp("2024-03-04", tz="UTC")
    records = validate(pd.DataFrame({
        "user_id": [1, 1, 1, 2],
        "timestamp": start + pd.to_timedelta([0, 60, 7200, 100], unit="s"),
        "event": ["call", "sms", "sms", "sms"],
        "direction": ["out", "out", "in", "in"],
        "duration_s": [30.0, 0.0, 0.0, 0.0],
        "answered": [True, True, True, True],
        "counterpart_id": [7, 8, 7, -1],
    }), "records")
    feats = ("log_events_per_day", "logit_call_share", "log_contacts", "logit_burst_share")
    raw, contacts = user_profiles(records, days=2.0, user_ids=np.array([1, 2, 3]), features=feats)
    assert contacts.tolist() == [2, 1, 1]  # user 3 has no records; at least one contact slot
    # user 1: 3 events in 2 days, 1 call of 3, 2 contacts, 1 of 2 gaps under 5 min
    np.testing.assert_allclose(raw[0], [np.log(1.5), np.log(1.5 / 2.5), np.log(2), 0.0])
    assert raw[1, 3] == 0.0 and raw[2, 0] == np.log(0.25)


def test_a_runaway_model_is_stopped_and_named(tiny, monkeypatch, caplog):
    """Gaps that collapse to the minimum would sample ~170k events per user-day and never finish."""
    import zen.traffic.sampler as sampler
    from zen.traffic.lstm import RUNAWAY_FACTOR, RUNAWAY_MIN_PER_DAY

    model, _, _ = tiny
    real_draw, calls = sampler.mixture_sample, {"n": 0}

    def collapsed_time_head(params, generator):  # each step draws the gap first, then a duration
        calls["n"] += 1
        y = real_draw(params, generator)
        return torch.full_like(y, -50.0) if calls["n"] % 2 == 1 else y

    monkeypatch.setattr(sampler, "mixture_sample", collapsed_time_head)
    activity = np.full(8, 2.0)
    with caplog.at_level("WARNING", logger="zen.traffic"):
        tl = model.sample(8, 1.0, pd.Timestamp("2013-02-04", tz="UTC"), seed=0, activity=activity)
    per_user = np.bincount(tl.user, minlength=8)
    assert per_user.max() <= max(RUNAWAY_FACTOR * 2.0, RUNAWAY_MIN_PER_DAY)
    assert "runaway" in caplog.text


def test_night_tendency_is_the_night_share_of_the_clock_sample_gives_each_user(tiny, monkeypatch):
    """The social graph's night assortativity reads each user's tendency before sampling: it
    must be the clock ``sample`` then gives that user (same seed, same activity)."""
    from zen.traffic import lstm

    model, _, _ = tiny
    seen = {}
    real = lstm.sample_population

    def spy(net, clock, *args, chronotype, **kwargs):
        seen["rate"], seen["row"] = clock.rate.numpy(), chronotype.numpy()
        return real(net, clock, *args, chronotype=chronotype, **kwargs)

    monkeypatch.setattr(lstm, "sample_population", spy)
    activity = np.exp(np.random.default_rng(3).normal(0.5, 0.8, 50))
    tendency = model.night_tendency(50, seed=7, activity=activity)
    model.sample(50, days=1, start=pd.Timestamp("2024-03-04", tz="UTC"), seed=7, activity=activity)
    night = np.arange(168) % 24 < 6
    expected = seen["rate"][:, night].sum(1) / seen["rate"].sum(1)
    assert model.chronotypes is not None and model.chronotypes.n > 1
    np.testing.assert_allclose(tendency, expected[seen["row"]])
    assert len(np.unique(tendency)) > 1
