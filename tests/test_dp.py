"""Differential privacy of training (issue 19): accountant, per-user clipping, noisy side models,
and one small DP-SGD run of zen-train on Copenhagen."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from zen.data.base import CDRData
from zen.privacy import epsilon_spent, laplace, max_steps_within, noise_for_epsilon
from zen.privacy.mechanisms import private_gaussian_profile, user_histograms
from zen.traffic.dp_train import plan, user_gradient_step
from zen.traffic.lstm import LSTMTrafficModel
from zen.traffic.train_loop import _chunks

START = pd.Timestamp("2024-01-01", tz="UTC")


# ------------------------------------------------------------------------------------ accountant
@pytest.mark.parametrize("sigma,q,steps,delta", [(1.1, 256 / 60000, 60 * 235, 1e-5), (0.8, 0.25, 120, 1e-4)])
def test_accountant_matches_opacus(sigma, q, steps, delta):
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    acc = RDPAccountant()
    for _ in range(steps):  # the way Opacus's optimizer hook records steps
        acc.step(noise_multiplier=sigma, sample_rate=q)
    ours = epsilon_spent(sigma, q, steps, delta, "rdp")
    assert ours == pytest.approx(acc.get_epsilon(delta), rel=1e-9)
    orders = acc.DEFAULT_ALPHAS
    eps, _ = get_privacy_spent(orders=orders, rdp=compute_rdp(q=q, noise_multiplier=sigma, steps=steps,
                                                              orders=orders), delta=delta)
    assert ours == pytest.approx(eps, rel=1e-9)


def test_noise_for_epsilon_and_stopping_rule():
    sigma = noise_for_epsilon(3.0, 1e-4, 0.25, 120)
    eps = epsilon_spent(sigma, 0.25, 120, 1e-4)
    assert 2.9 < eps <= 3.0
    # with less noise the budget runs out early: the run stops at the last step within it
    stop = max_steps_within(3.0, 0.7 * sigma, 0.25, 1e-4, upper=120)
    assert 0 < stop < 120
    low = 0.7 * sigma
    assert epsilon_spent(low, 0.25, stop, 1e-4) <= 3.0 < epsilon_spent(low, 0.25, stop + 1, 1e-4)


def test_plan_delta_at_most_one_over_users():
    base = {"epsilon": 3.0, "noise_multiplier": None, "sample_rate": 0.25, "max_grad_norm": 1.0,
            "accountant": "rdp"}
    p = plan({**base, "delta": None}, 400, epochs=10)
    assert p["delta"] == pytest.approx(1 / 4000) and p["steps"] == 40
    with pytest.raises(ValueError, match="1/n_users"):
        plan({**base, "delta": 0.01}, 400, epochs=10)


# ------------------------------------------------------------------------------ per-user clipping
def _hand_made() -> CDRData:
    """User 1: 150 SMS (one an hour), user 2: 3 calls; both with two contacts."""
    rows = []
    for i in range(150):
        direction = "out" if i % 2 else "in"
        rows.append((1, START + pd.Timedelta(hours=i + 0.3), "sms", direction, 0.0, 10 + i % 2))
    for i in range(3):
        rows.append((2, START + pd.Timedelta(days=i + 0.5), "call", "out", 60.0 * (i + 1), 20 + i % 2))
    columns = ["user_id", "timestamp", "event", "direction", "duration_s", "counterpart_id"]
    df = pd.DataFrame(rows, columns=columns)
    df["event"] = pd.Categorical(df["event"], categories=["call", "sms", "data"])
    df["direction"] = pd.Categorical(df["direction"], categories=["out", "in"])
    df["duration_s"] = df["duration_s"].astype(np.float32)
    df["answered"] = True
    df["cell_id"] = -1
    df["volume_bytes"] = -1
    df["timestamp"] = df["timestamp"].astype("datetime64[us, UTC]")
    return CDRData(df, START, 7.0, name="hand-made")


def _dp_setup(bptt: int):
    from opacus import GradSampleModule

    data = _hand_made()
    model = LSTMTrafficModel(hidden=8, layers=1, n_mix=2, mark_hidden=8, max_rank=4, num_threads=1)
    model._fit_population(data, seed=0)
    encode, lengths = model._encoder(data)
    batch = encode(np.array([0, 1]))
    scalers = {"gap_loc": 8.0, "gap_scale": 2.0, "dur_loc": 4.0, "dur_scale": 1.5}
    plain = model._build_net()
    plain.init_weights(torch.Generator().manual_seed(0))
    net = model._build_net(dp=True)
    net.load_weights(plain.weights())
    gsm = GradSampleModule(net, batch_first=True, loss_reduction="sum")
    w = torch.tensor(1.0 / lengths, dtype=torch.float32)
    return gsm, plain, batch, scalers, w, lengths


def test_per_user_gradient_is_the_users_whole_timeline():
    """One row per user (not per chunk), equal to that user's summed gradient over all chunks."""
    gsm, plain, batch, scalers, w, lengths = _dp_setup(bptt=16)
    assert lengths.tolist() == [151, 4]
    user_gradient_step(gsm, [batch], [w], scalers, bptt=16)
    assert len(_chunks(batch, 16)) == 10  # user 1 spans 10 chunks
    for user in (0, 1):  # reference: plain autograd of this user alone, same chunks
        plain.zero_grad()
        one = batch.__class__(**{k: v[user:user + 1] for k, v in batch.__dict__.items()})
        carry = None
        for lo, hi in _chunks(one, 16):
            chunk = one.chunk(lo, hi)
            h, carry = plain(chunk, carry)
            (sum(plain.nll(chunk, h, scalers).values()) * w[user]).backward()
            carry = tuple(s.detach() for s in carry)
        dp_params = dict(gsm._module.named_parameters())
        assert dp_params.keys() == dict(plain.named_parameters()).keys()
        for name, p in plain.named_parameters():
            q = dp_params[name]
            assert q.grad_sample.shape[0] == 2, name
            torch.testing.assert_close(q.grad_sample[user], p.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_clipping_bounds_each_user_whatever_their_events():
    """After Opacus clips, a user with 150 events moves the gradient no more than one with 3."""
    from opacus.optimizers import DPOptimizer

    norms = {}
    for user in (0, 1):
        gsm, _, batch, scalers, w, _ = _dp_setup(bptt=16)
        one = batch.__class__(**{k: v[user:user + 1] for k, v in batch.__dict__.items()})
        opt = DPOptimizer(torch.optim.SGD(gsm.parameters(), lr=0.0), noise_multiplier=0.0,
                          max_grad_norm=1e-3, expected_batch_size=1, loss_reduction="sum")
        user_gradient_step(gsm, [one], [w[user:user + 1]], scalers, bptt=16)
        raw = torch.sqrt(sum((p.grad_sample ** 2).sum() for p in gsm.parameters()))
        opt.step()
        norms[user] = (float(raw), float(torch.sqrt(sum((p.grad ** 2).sum() for p in gsm.parameters()))))
    assert norms[0][0] > 1e-3 and norms[1][0] > 1e-3  # both were clipped ...
    assert norms[0][1] == pytest.approx(1e-3, rel=1e-3)  # ... to the same norm
    assert norms[1][1] == pytest.approx(1e-3, rel=1e-3)


# ------------------------------------------------------------------------------ noisy side models
def test_laplace_noise_has_the_stated_scale():
    rng = np.random.default_rng(0)
    noisy, scale = laplace(np.zeros(40_000), sensitivity=2.0, epsilon=0.5, rng=rng)
    assert scale == 4.0
    assert np.mean(np.abs(noisy)) == pytest.approx(4.0, rel=0.03)  # E|Laplace(b)| = b


def test_user_histograms_move_by_at_most_one_per_user():
    rng = np.random.default_rng(1)
    user = rng.integers(0, 50, 2000)
    bins = rng.integers(0, 24, 2000)
    full = user_histograms(user, bins, 24)
    assert full.sum() == pytest.approx(len(np.unique(user)))
    for u in range(5):
        keep = user != u
        assert np.abs(full - user_histograms(user[keep], bins[keep], 24)).sum() <= 1 + 1e-9


def test_private_profile_mean_has_the_stated_noise():
    rng = np.random.default_rng(2)
    n, feats = 400, ("log_events_per_day", "logit_call_share")
    raw = np.stack([rng.normal(0.0, 0.5, n), rng.normal(-1.0, 1.0, n)], 1)
    means = []
    for seed in range(400):
        rng = np.random.default_rng(seed)
        mean, cov, info = private_gaussian_profile(raw, feats, 28.0, epsilon=1.0, rng=rng)
        means.append(mean)
    assert info["sensitivity_l1"] == 1 + 2 + 3 and info["laplace_scale"] == 6.0
    lo, hi = info["bounds"]["logit_call_share"]
    # mean_z ~ (S1 + Lap(b)) / n: std sqrt(2) b / n in [-1, 1] units, x (hi - lo) / 2 in raw units
    expected = np.sqrt(2) * 6.0 / n * (hi - lo) / 2
    assert np.std(np.array(means)[:, 1]) == pytest.approx(expected, rel=0.2)
    assert np.mean(np.array(means)[:, 1]) == pytest.approx(raw[:, 1].mean(), abs=3 * expected)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


# ------------------------------------------------------------------------------ zen-train, DP on
def test_dp_training_run_records_its_budget(copenhagen_dir, compose, tmp_path):
    from zen.stages.train import train

    out = tmp_path / "model"
    cfg = compose("train", ["model=lstm_small", f"model_dir={out}", f"data.loader.path={copenhagen_dir}",
                            "device=cpu", "trainer.dp.epsilon=3", "trainer.dp.epochs=1"])
    metrics = train(cfg)
    record = json.loads((out / "model.json").read_text())
    privacy = record["privacy"]
    n_train = record["split"]["sizes"]["train"]
    assert privacy["private"] and 2.5 < privacy["epsilon"] <= 3.0 + 1e-9
    assert privacy["delta"] <= 1.0 / n_train
    assert metrics["privacy/epsilon"] == pytest.approx(privacy["epsilon"])
    sgd = next(r for r in privacy["releases"] if r["name"] == "traffic LSTM weights")
    assert sgd["details"]["accountant"] == "rdp" and sgd["details"]["steps_taken"] == 4
    assert "social graph" in " ".join(privacy["not_private"])
    assert "checkpoints" in " ".join(privacy["not_private"])  # its training-NLL history
    assert "train" not in record["split"]  # no training user ids in a DP model folder
    state = torch.load(out / "traffic" / "lstm.pt", weights_only=True)  # tensors and plain containers
    assert not any(".l0.ih." in k for k in state["model"])
    model = LSTMTrafficModel.load(out / "traffic")
    tl = model.sample(20, 2.0, START, seed=0)
    again = LSTMTrafficModel.load(out / "traffic").sample(20, 2.0, START, seed=0)
    assert len(tl.t_s) > 0 and np.array_equal(tl.t_s, again.t_s)


def test_crop_keeps_one_window_per_user():
    from zen.traffic.dp_train import crop

    _, _, batch, _, _, lengths = _dp_setup(bptt=16)
    out = crop(batch, 32, np.random.default_rng(0))
    assert out.kind.shape == (2, 32) and out.clock_in.shape == (2, 32, 6)
    assert out.valid.sum(1).tolist() == [32, 4]  # the long user: a window; the short one: all
    assert torch.equal(out.kind[1, :4], batch.kind[1, :4])
    assert torch.equal(out.kind_next[0, :-1], out.kind[0, 1:])  # inputs and targets stay aligned
    fields = ("kind", "kind_next", "gap_in", "gap", "clock_in")
    starts = [s for s in range(151 - 32 + 1)
              if all(torch.equal(getattr(out, f)[0], getattr(batch, f)[0, s:s + 32]) for f in fields)]
    assert starts  # one contiguous window of the user's own steps


def test_dp_with_the_baseline_is_a_clear_error(copenhagen_dir, compose, tmp_path):
    from zen.schema import ZenInputError
    from zen.stages.train import train

    cfg = compose("train", ["model=baseline", f"model_dir={tmp_path / 'model'}",
                            f"data.loader.path={copenhagen_dir}", "device=cpu", "trainer.dp.epsilon=3"])
    with pytest.raises(ZenInputError, match="model=lstm"):
        train(cfg)
    assert not (tmp_path / "model" / "model.json").exists()


def test_dp_kill_and_resume_equals_uninterrupted(copenhagen, tmp_path, monkeypatch):
    from zen.traffic import dp_train

    data = copenhagen.subset(np.sort(copenhagen.user_ids)[:40])
    cfg = {"max_epochs": 2, "max_steps": None, "batch_size": 16, "lr": 1e-2, "weight_decay": 0.0,
           "grad_clip": 1.0, "patience": 4, "eval_every": 0, "amp": False,
           "dp": {"epsilon": None, "noise_multiplier": 1.0, "delta": None, "max_grad_norm": 1.0,
                  "sample_rate": 0.5, "epochs": 2, "lr": 1e-2, "max_user_steps": 64,
                  "side_share": 0.2, "side_epsilon": 1.0, "accountant": "rdp", "secure_rng": False}}
    tiny = {"hidden": 8, "layers": 1, "n_mix": 2, "mark_hidden": 8, "eval_users": 5}

    def fit(folder: str, resume: bool = False) -> LSTMTrafficModel:
        model = LSTMTrafficModel(**tiny)
        model.fit(data, None, trainer=cfg, work_dir=tmp_path / folder / "model", device=torch.device("cpu"),
                  seed=3, resume=resume)
        return model

    straight = fit("a")
    real_save = dp_train._save

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt("killed after the first checkpoint")

    monkeypatch.setattr(dp_train, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit("b")
    monkeypatch.setattr(dp_train, "_save", real_save)
    resumed = fit("b", resume=True)
    assert resumed.history_ == straight.history_ and len(straight.history_) == 2
    assert resumed.privacy_ledger.epsilon == straight.privacy_ledger.epsilon
    for k, v in straight.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[k], v, rtol=0, atol=0)


@pytest.mark.slow
def test_dp_train_generate_evaluate_reports_the_guarantee(copenhagen_dir, compose, generate_cfg, tmp_path):
    from zen.stages.evaluate import evaluate
    from zen.stages.generate import generate
    from zen.stages.train import train

    model_dir = tmp_path / "model"
    train(compose("train", ["model=lstm_small", f"model_dir={model_dir}", "device=cpu",
                            f"data.loader.path={copenhagen_dir}", "trainer.dp.epsilon=3",
                            "trainer.dp.epochs=1"]))
    generate(generate_cfg(model_dir, tmp_path / "dataset", days=28))
    overrides = [f"synthetic={tmp_path / 'dataset'}", f"out_dir={tmp_path / 'report'}",
                 f"data.loader.path={copenhagen_dir}", "tasks.usefulness=false"]
    scores = evaluate(compose("evaluate", overrides))
    assert scores["privacy/epsilon"] <= 3.0 + 1e-9
    for name in ("whitebox_auc", "whitebox_tpr_at_1fpr", "whitebox_eps_lower", "lr_auc", "lr_eps_lower"):
        assert np.isfinite(scores[f"privacy/{name}"]), name
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Formal guarantee: (2.99" in report and "social graph" in report


def test_private_clock_states_its_scale_and_converges_without_noise():
    from zen.privacy import private_clock_rate

    rng = np.random.default_rng(4)
    user = rng.integers(0, 200, 5000)
    week_s = rng.uniform(0, 7 * 86400, 5000) * (1 + (user % 2))  # two kinds of users
    week_s = week_s % (7 * 86400)
    rate, info = private_clock_rate(user, week_s, 0.0, 28.0, epsilon=1.0, rng=np.random.default_rng(0))
    assert info["laplace_scale"] == 2.0 and info["sensitivity_l1"] == 1.0
    assert rate.shape == (168,) and np.all(rate > 0) and rate.mean() == pytest.approx(1.0)
    other, _ = private_clock_rate(user, week_s, 0.0, 28.0, epsilon=1.0, rng=np.random.default_rng(1))
    assert not np.allclose(rate, other)  # the noise is there
    a, _ = private_clock_rate(user, week_s, 0.0, 28.0, epsilon=1e6, rng=np.random.default_rng(0))
    b, _ = private_clock_rate(user, week_s, 0.0, 28.0, epsilon=1e6, rng=np.random.default_rng(1))
    np.testing.assert_allclose(a, b, rtol=1e-3)  # and only the noise


def test_diagonal_profile_covariance_has_less_noise():
    raw = np.random.default_rng(5).normal(0.0, 0.5, (300, 3))
    feats = ("log_events_per_day", "logit_call_share", "logit_out_share")
    _, cov, full = private_gaussian_profile(raw, feats, 28.0, 1.0, np.random.default_rng(0))
    _, diag, info = private_gaussian_profile(raw, feats, 28.0, 1.0, np.random.default_rng(0), "diagonal")
    assert full["sensitivity_l1"] == 1 + 3 + 6 and info["sensitivity_l1"] == 1 + 3 + 3
    assert np.allclose(diag, np.diag(np.diag(diag)), atol=1e-9)
