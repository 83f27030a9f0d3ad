"""Start-backs (zen.network.startbacks): the near-partner rule, the fit, the placement, and the
assembly and generation that use them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from zen.assembly import mirror_on_network
from zen.assembly.assembler import assemble_shard
from zen.measures.conversations import conversations
from zen.network.partners import DAY_S, hour_bin
from zen.network.startbacks import HORIZON_S, Spans, StartbackPlan, fit, fit_records, near_partner, place

START = pd.Timestamp("2013-02-04", tz="UTC")
H = 3600.0


def test_near_partner_on_hand_made_conversations():
    # user 1 started two conversations with user 0: [100, 200] s and [50,000, 50,100] s
    partner = Spans.of(np.array([1, 1]), np.array([0, 0]), np.array([100.0, 50_000.0]),
                       np.array([200.0, 50_100.0]), n_users=3)
    starter = np.array([0, 0, 0, 0, 0])
    counterpart = np.array([1, 1, 1, 1, 2])
    start = np.array([200 + 2 * H, 40_000.0, 50_100 + 86_400 + 10, 300_000.0, 0.0])
    end = start + np.array([60.0, 5_000.0, 0.0, 10.0, 1.0])
    has, near = near_partner(starter, counterpart, start, end, partner, n_users=3)
    # 1: starts 2 h after the partner's first ends; 2: ends 5,000 s before the partner's second
    # starts; 3: starts a day and 10 s after the second ends; 4: days away; 5: user 2 started none
    assert has.tolist() == [True, True, True, True, False]
    assert near.tolist() == [True, True, False, False, False]


def test_the_fit_recovers_a_known_share_and_delay_law():
    """One conversation each way per pair; in a share 0.6 of the pairs the second follows the
    first after a log-normal delay (median 3 h), elsewhere ten days later: the fit returns that
    share and the delays' quantiles."""
    rng = np.random.default_rng(0)
    pairs = 3000
    close = rng.random(pairs) < 0.6
    delay = np.minimum(np.exp(rng.normal(np.log(3 * H), 0.6, pairs)), 20 * H)
    first_start = rng.uniform(0, 5 * DAY_S, pairs)
    first_end = first_start + rng.uniform(0, 600, pairs)
    second = np.where(close, first_end + delay, first_end + 10 * DAY_S)
    u, v = np.arange(pairs) * 2, np.arange(pairs) * 2 + 1
    law = fit(np.r_[u, v], np.r_[v, u], np.r_[first_start, second], np.r_[first_end, second + 60],
              2 * pairs)
    assert abs(law["share"] - close.mean()) < 1e-9
    quantiles = np.asarray(law["delay_quantiles_s"])
    assert len(quantiles) == 41 and np.all(np.diff(quantiles) >= 0)
    assert abs(quantiles[20] / np.median(delay[close]) - 1) < 0.02
    assert law["horizon_s"] == HORIZON_S and law["conversations"] == 2 * pairs


def _pairs_world(n_pairs: int = 400, days: int = 28, seed: int = 0):
    """Pairs (2i, 2i+1): the higher-index user started 4 conversations with the lower, the lower
    6 with the higher, all at independent uniform times (10 min long), over ``days``."""
    rng = np.random.default_rng(seed)
    low, high = np.arange(n_pairs) * 2, np.arange(n_pairs) * 2 + 1
    a_start = rng.uniform(0, days * DAY_S - 600, (n_pairs, 4))
    anchors = Spans.of(np.repeat(high, 4), np.repeat(low, 4), a_start.ravel(), a_start.ravel() + 600,
                       2 * n_pairs)
    start = rng.uniform(0, days * DAY_S - 600, n_pairs * 6)
    return anchors, np.repeat(low, 6), np.repeat(high, 6), start, start + 600.0, days * DAY_S


def test_placement_reaches_the_fitted_share_and_keeps_hours_window_and_lengths():
    anchors, starter, counterpart, start, end, window = _pairs_world()
    n = 2 * 400
    law = {"share": 0.8, "horizon_s": HORIZON_S,
           "delay_quantiles_s": np.quantile(np.exp(np.random.default_rng(1).normal(np.log(3 * H), 0.8, 5000))
                                            .clip(H, HORIZON_S), np.linspace(0, 1, 41)).tolist()}
    def share_near(offset: np.ndarray) -> float:  # of all the pairs' conversations, both ways
        _, mine = near_partner(starter, counterpart, start + offset, end + offset, anchors, n)
        theirs = Spans.of(starter, counterpart, start + offset, end + offset, n)
        _, back = near_partner(anchors.key // n, anchors.key % n, anchors.start, anchors.end, theirs, n)
        return (mine.sum() + back.sum()) / (len(mine) + len(back))

    _, before = near_partner(starter, counterpart, start, end, anchors, n)
    offset = place(starter, counterpart, start, end, np.ones(len(start), bool), anchors, n, law, window,
                   np.random.default_rng(2))
    moved = offset != 0
    assert share_near(np.zeros(len(start))) < 0.6 and abs(share_near(offset) - 0.8) < 0.02, share_near(offset)
    assert not (moved & before).any()  # a conversation already near its partner stays
    assert (hour_bin(start[moved] + offset[moved]) == hour_bin(start[moved])).all()
    assert (start + offset >= 0).all() and (end + offset < window).all()
    # not movable: nothing moves; a share of 0 or no law: nothing moves
    still = place(starter, counterpart, start, end, np.zeros(len(start), bool), anchors, n, law, window,
                  np.random.default_rng(2))
    assert not still.any()
    for off in ({**law, "share": 0.0}, {"share": 0.0, "delay_quantiles_s": []}):
        assert not place(starter, counterpart, start, end, np.ones(len(start), bool), anchors, n, off,
                         window, np.random.default_rng(2)).any()


def _shard_with_startbacks():
    """The partner tests' 4-user starter shard (user 0 starts a 3-turn SMS conversation every 2
    hours, with tie 1 at 10:00 each day) with user 1 having started one with user 0 at 13:00 on
    each of the first five days only; delays of 1-3 hours, a share of 0.9 near the partner."""
    from test_partners import _starter_shard

    days = 10
    tl, pop, stays = _starter_shard(days)
    a = np.arange(5) * DAY_S + 13 * 3600.0
    law = {"share": 0.9, "horizon_s": HORIZON_S, "delay_quantiles_s": np.linspace(H, 3 * H, 41).tolist()}
    pop.startbacks = StartbackPlan(Spans.of(np.ones(5, np.int64), np.zeros(5, np.int64), a, a + 120, 4),
                                   law, days * DAY_S)
    return tl, pop, stays


def test_assembly_moves_a_users_conversations_next_to_the_ties_own_and_keeps_the_counting_rule():
    tl, pop, stays = _shard_with_startbacks()
    rng = np.random.default_rng(3)
    own = assemble_shard(tl, 0, pop, START, stays, np.arange(4), np.random.default_rng(1), pairing="starter",
                         startback_rng=rng)
    plain = assemble_shard(tl, 0, replace_startbacks(pop), START, stays, np.arange(4),
                           np.random.default_rng(1), pairing="starter")
    conv, conv_plain = conversations(own), conversations(plain)
    counts = conv["counterpart_id"].value_counts().to_dict()
    assert counts == conv_plain["counterpart_id"].value_counts().to_dict() == {1: 10, 2: 60, 3: 50}
    assert set(conv["turns"]) == {3}  # conversations move whole
    t = (conv["start"] - START).dt.total_seconds().to_numpy()
    to_1 = conv["counterpart_id"].to_numpy() == 1
    plan = pop.startbacks
    _, near = near_partner(np.zeros(to_1.sum(), np.int64), np.ones(to_1.sum(), np.int64), t[to_1],
                           t[to_1] + 60, plan.partner, 4)
    t0 = (conv_plain["start"] - START).dt.total_seconds().to_numpy()
    t0 = t0[conv_plain["counterpart_id"].to_numpy() == 1]
    _, near_plain = near_partner(np.zeros(len(t0), np.int64), np.ones(len(t0), np.int64), t0, t0 + 60,
                                 plan.partner, 4)
    # days 0-5 are already near (within a day of 13:00 on days 0-4) and stay; of days 6-9 about
    # three quarters move to 11:00-12:00 on days 0-4 (before 13:00 by 1-3 h, in the same hour
    # bin, an hour or more from the 10:00 conversation there); none merges with another
    assert near_plain.mean() == 0.6 and near.mean() >= 0.8, (near_plain, near)
    assert (hour_bin(t[to_1]) == 1).all()
    # records sorted by user and time; each out of the shard has its in at the other end
    assert (own.groupby("user_id")["timestamp"].apply(lambda s: s.is_monotonic_increasing)).all()
    both = pd.concat([own, mirror_on_network(own, pop.n_users)], ignore_index=True)
    key = ["user_id", "counterpart_id", "timestamp", "event", "duration_s", "answered"]
    out = both[both["direction"] == "out"].rename(columns={"user_id": "counterpart_id",
                                                          "counterpart_id": "user_id"})[key]
    inc = both[both["direction"] == "in"][key]
    assert len(out) == len(inc) == len(tl) and len(out.merge(inc, on=key)) == len(out)


def replace_startbacks(pop):
    from dataclasses import replace

    return replace(pop, startbacks=None)


def test_the_fit_on_copenhagen_finds_start_backs_beyond_chance(copenhagen):
    law = fit_records(copenhagen.records, copenhagen.user_ids)
    assert 0.55 < law["share"] < 0.75 and law["conversations"] > 3000
    assert law["delay_quantiles_s"][0] >= 3600.0  # a pair's events an hour apart are one conversation
    assert law["delay_quantiles_s"][-1] <= HORIZON_S


def test_an_unknown_startbacks_setting_is_one_clear_line():
    from zen.generation import GenerationSpec
    from zen.schema import ZenInputError

    with pytest.raises(ZenInputError, match="unknown startbacks 'x'; use auto or none"):
        GenerationSpec(n_users=10, days=1, startbacks="x")


def test_start_backs_and_hand_over_in_generation_are_the_same_for_any_workers_and_off_is_an_old_model(
        model_dir, tmp_path):
    """End to end (300 users in 3 shards, 10 days: in 3 days almost every conversation is within a
    day of the partner's already): the same records for 1 and 2 workers; ``startbacks=none`` and
    ``starters=none`` each change them, and give the records of a model folder fitted before the
    option (its key gone from social.json)."""
    from conftest import small_generate_config

    from zen.io.dataset import read_dataset
    from zen.stages.generate import generate

    social = json.loads((model_dir / "social.json").read_text())
    assert social["startbacks"]["share"] > 0.5 and sum(social["starter_split"]["pairs"]) > 100

    def records(name: str, model=model_dir, **extra) -> dict:
        generate(small_generate_config(model, tmp_path / name, pairing="starter", days=10, **extra))
        sums = read_dataset(tmp_path / name).manifest["checksums"].items()
        return {k: v for k, v in sums if k.startswith("records")}

    def old_model(name: str, *keys: str):
        old = tmp_path / name
        shutil.copytree(model_dir, old)
        fitted = json.loads((old / "social.json").read_text())
        for key in keys:
            del fitted[key]
        (old / "social.json").write_text(json.dumps(fitted))
        return old

    one = records("one", workers=1)
    assert records("two", workers=2) == one and len(one) > 3
    no_startbacks = records("no-startbacks", startbacks="none")
    neither = records("neither", startbacks="none", starters="none")
    assert len({str(one), str(no_startbacks), str(neither)}) == 3
    assert records("old", model=old_model("old-model", "startbacks")) == no_startbacks
    assert records("older", model=old_model("older-model", "startbacks", "starter_split")) == neither
