"""Membership audits of issue 19: the attacks can fail a model, and the empirical epsilon lower
bound is valid (never above the true epsilon of a known mechanism)."""

from __future__ import annotations

import numpy as np
import pytest

from zen.evaluation.privacy import epsilon_lower_bound, membership_audit, tpr_at_fpr


def test_tpr_at_fpr_on_separated_and_identical_scores():
    assert tpr_at_fpr(np.arange(100) + 1000.0, np.arange(100.0)) == 1.0
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    assert tpr_at_fpr(x[:10_000], x[10_000:]) == pytest.approx(0.01, abs=0.004)


def test_epsilon_lower_bound_is_valid_for_randomized_response():
    """Randomised response with epsilon = 1: the bound approaches 1 from below, never above."""
    eps = 1.0
    p = np.exp(eps) / (1 + np.exp(eps))
    for seed in range(3):
        rng = np.random.default_rng(seed)
        member = (rng.random(20_000) < p).astype(float)
        nonmember = (rng.random(20_000) < 1 - p).astype(float)
        bound = epsilon_lower_bound(member, nonmember, delta=1e-5)
        assert 0.8 < bound <= eps


def test_epsilon_lower_bound_chance_and_perfect_attacks():
    rng = np.random.default_rng(1)
    assert epsilon_lower_bound(rng.normal(size=300), rng.normal(size=300), 1e-4) < 0.5
    perfect = epsilon_lower_bound(np.ones(500), np.zeros(500), 1e-4)
    assert perfect > 4.0  # limited by 500 users, not by the attack


@pytest.fixture(scope="module")
def overfit(copenhagen, tmp_path_factory):
    """A deliberately overfit LSTM: 20 short-timeline users, 250 epochs, no weight decay."""
    import torch

    from zen.traffic.lstm import LSTMTrafficModel

    n = copenhagen.records.groupby("user_id").size()
    users = np.sort(n[(n >= 15) & (n <= 60)].index.to_numpy())
    rng = np.random.default_rng(0)
    users = rng.permutation(users)[:60]
    members, others = users[:20], users[20:]
    model = LSTMTrafficModel(hidden=64, layers=1, n_mix=4, mark_hidden=64, num_threads=1)
    trainer = {"max_epochs": 250, "max_steps": None, "batch_size": 32, "lr": 1e-2, "weight_decay": 0.0,
               "grad_clip": 10.0, "patience": 1000, "eval_every": 0, "amp": False, "warmup": 5}
    model.fit(copenhagen.subset(members), None, trainer=trainer,
              work_dir=tmp_path_factory.mktemp("overfit") / "model", device=torch.device("cpu"), seed=0)
    return model, copenhagen.subset(members), copenhagen.subset(others)


def test_whitebox_audit_detects_an_overfit_model(overfit):
    model, members, others = overfit
    nll_in, nll_out = model.nll_per_user(members), model.nll_per_user(others)
    assert len(nll_in) == 20 and np.isfinite(nll_in).all()
    audit = membership_audit(-nll_in, -nll_out, delta=1e-3, prefix="whitebox")
    assert audit["privacy/whitebox_auc"] > 0.75  # the audit can fail a model
    assert audit["privacy/whitebox_eps_lower"] > 0.0
