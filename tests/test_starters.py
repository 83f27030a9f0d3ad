"""Who starts a pair's conversations (zen.network.starters): the fit, the hand-over rule and the
assembly that uses it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.assembly import mirror_on_network
from zen.assembly.assembler import assemble_shard
from zen.measures.conversations import conversations
from zen.network.starters import BINS, StarterPlan, fit, fit_records, handed_over, size_bin

START = pd.Timestamp("2013-02-04", tz="UTC")


def test_the_fit_returns_the_larger_sides_share_by_pair_size():
    # pair (0, 1): 3 by 0, 1 by 1 (share 0.75, size 4); pair (2, 3): 1 each (0.5, size 2);
    # pair (4, 5): 2 by 5 (1.0, size 2); pair (6, 7): one by 6 (1.0, size 1)
    starter = np.array([0, 0, 0, 1, 2, 3, 5, 5, 6])
    counterpart = np.array([1, 1, 1, 0, 3, 2, 4, 4, 7])
    law = fit(starter, counterpart, 8)
    assert law["bins"] == list(BINS) and law["pairs"] == [1, 2, 1, 0, 0, 0, 0]
    assert np.allclose(law["quantiles"][0], 1.0)
    assert np.isclose(law["quantiles"][1][0], 0.5) and np.isclose(law["quantiles"][1][-1], 1.0)
    assert np.allclose(law["quantiles"][2], 0.75) and law["quantiles"][3] == []
    assert size_bin(np.array([1, 2, 3, 4, 5, 8, 9, 32, 33, 1000])).tolist() == [0, 1, 2, 2, 3, 3, 4, 5, 6, 6]


def _law(share: float) -> dict:
    return {"bins": list(BINS), "quantiles": [[share] * 41 for _ in BINS], "pairs": [1] * len(BINS)}


def test_the_larger_side_hands_over_down_to_the_drawn_share_and_never_below_half():
    rng = np.random.default_rng(0)
    n_own, n_other = np.array([10, 10, 3, 2, 5, 1]), np.array([0, 2, 3, 5, 4, 0])
    assert handed_over(n_own, n_other, _law(0.5), rng).tolist() == [5, 4, 0, 0, 0, 0]
    assert handed_over(n_own, n_other, _law(0.7), rng).tolist() == [3, 2, 0, 0, 0, 0]
    assert handed_over(n_own, n_other, _law(1.0), rng).tolist() == [0, 0, 0, 0, 0, 0]
    # an empty bin borrows the nearest smaller filled one's law
    law = _law(0.5)
    law["quantiles"][4] = []
    assert handed_over(np.array([12]), np.array([0]), law, rng).tolist() == [6]


def test_on_copenhagen_the_larger_side_starts_about_two_thirds_of_a_pairs_conversations(copenhagen):
    law = fit_records(copenhagen.records, copenhagen.user_ids)
    medians = [q[20] for q in law["quantiles"][2:] if q]
    assert sum(law["pairs"]) > 500 and all(0.55 < m < 0.75 for m in medians), medians


def _one_way_and_two_way_shard(days: int = 10):
    """The partner tests' 4-user starter shard (user 0 starts a 3-turn SMS conversation, out, in,
    out, every 2 hours with ties 1-3), plus a one-event SMS of user 0 to tie 1 an hour after
    each of them (one-way conversations)."""
    from test_partners import _starter_shard

    tl, pop, stays = _starter_shard(days)
    single = tl.take(np.flatnonzero(np.arange(len(tl)) % 3 == 0))
    single.t_s = single.t_s + 3600.0 + 60
    single.contact_rank = np.full(len(single), 0, single.contact_rank.dtype)
    both = type(tl).concat([tl, single]).sorted()
    return both, pop, stays


@pytest.mark.parametrize("share", [0.5, 0.8])
def test_assembly_hands_two_way_conversations_over_and_keeps_everything_else(share):
    tl, pop, stays = _one_way_and_two_way_shard()
    pop.starters = StarterPlan.of(np.zeros(0), np.zeros(0), np.zeros(0), 4, _law(share))
    own = assemble_shard(tl, 0, pop, START, stays, np.arange(4), np.random.default_rng(1), pairing="starter",
                         starter_rng=np.random.default_rng(2))
    pop.starters = None
    plain = assemble_shard(tl, 0, pop, START, stays, np.arange(4), np.random.default_rng(1),
                           pairing="starter")
    key = ["user_id", "counterpart_id", "timestamp", "event", "duration_s", "answered", "cell_id"]
    pd.testing.assert_frame_equal(own[key], plain[key])  # the same events, only directions change
    conv, before = conversations(own), conversations(plain)
    assert before["started_out"].all() and (conv["turns"] == before["turns"]).all()
    for tie in (1, 2, 3):
        mine = conv[(conv["counterpart_id"] == tie) & (conv["turns"] == 3)]
        kept = int(np.maximum(np.round(share * len(mine)), np.ceil(len(mine) / 2)))
        assert mine["started_out"].sum() == kept  # the tie starts the rest (nobody else started any)
    assert conv[conv["turns"] == 1]["started_out"].all()  # one-way conversations never change hands
    both = pd.concat([own, mirror_on_network(own, 4)])
    ties = ["user_id", "counterpart_id", "direction"]
    directed = both[ties].astype(str).drop_duplicates().sort_values(ties).reset_index(drop=True)
    before_ties = pd.concat([plain, mirror_on_network(plain, 4)])[ties].astype(str).drop_duplicates()
    pd.testing.assert_frame_equal(directed, before_ties.sort_values(ties).reset_index(drop=True))
    out = both[both["direction"] == "out"].rename(columns={"user_id": "counterpart_id",
                                                          "counterpart_id": "user_id"})[key[:6]]
    inc = both[both["direction"] == "in"][key[:6]]
    assert len(out) == len(inc) and len(out.merge(inc, on=key[:6])) == len(out)  # the counting rule


def test_a_pair_already_balanced_hands_nothing_over():
    tl, pop, stays = _one_way_and_two_way_shard()
    # users 1-3 started as many conversations with user 0 as user 0 with them (tie 1: 10 two-way
    # and 120 one-way; ties 2 and 3: 60 and 50 two-way)
    plan = StarterPlan.of(np.array([1, 2, 3]), np.zeros(3), np.array([130, 60, 50]), 4, _law(0.5))
    pop.starters = plan
    own = assemble_shard(tl, 0, pop, START, stays, np.arange(4), np.random.default_rng(1), pairing="starter",
                         starter_rng=np.random.default_rng(2))
    assert conversations(own)["started_out"].all()
    assert plan.started(np.array([1 * 4 + 0, 0 * 4 + 1])).tolist() == [130, 0]


def test_an_unknown_starters_setting_is_one_clear_line():
    from zen.generation import GenerationSpec
    from zen.schema import ZenInputError

    with pytest.raises(ZenInputError, match="unknown starters 'x'; use auto or none"):
        GenerationSpec(n_users=10, days=1, starters="x")
