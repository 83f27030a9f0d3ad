"""Conversations: the measures on hand-made records, and the assembler's counting rule.

With ``pairing=conversation`` every on-network conversation sampled in a user's timeline is kept
whole or dropped whole, and a kept one appears at both ends with the same turns and reply
delays; every on-network ``out`` has exactly one matching ``in``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.assembly import Population, assemble_shard, mirror_on_network
from zen.evaluation.fidelity import conversation_scores
from zen.evaluation.sample import CDRSample
from zen.measures.conversations import conversation_ids, conversations, reply_delays, started_by_user
from zen.mobility.stays import Stays
from zen.traffic.timeline import CONTACT_NONE, Timelines

START = pd.Timestamp("2013-02-04", tz="UTC")


def records(rows: list[tuple[int, float, str, int]]) -> pd.DataFrame:
    """(user, seconds from START, direction, counterpart) SMS records."""
    user, t, direction, cp = zip(*rows, strict=True)
    return pd.DataFrame({"user_id": user, "timestamp": START + pd.to_timedelta(t, unit="s"), "event": "sms",
                         "direction": direction, "duration_s": 0.0, "answered": True,
                         "counterpart_id": cp, "cell_id": -1, "volume_bytes": -1})


def test_conversation_ids_split_on_pair_and_pause():
    user = np.array([0, 0, 0, 0, 0, 1, 0])
    cp = np.array([5, 5, 6, 5, -1, 5, 5])
    t = np.array([0.0, 60, 100, 3000, 50, 10, 9000])
    ids = conversation_ids(user, cp, t, gap_s=3600)
    assert ids[4] == -1
    assert ids[0] == ids[1] == ids[3]  # 0 -> 60 -> 3000 s with user 5: one conversation
    assert len({ids[0], ids[2], ids[5], ids[6]}) == 4  # other partner, other user, after a pause


def test_reply_delays_turns_and_starter_on_hand_made_records():
    rec = records([(0, 0, "out", 1), (0, 30, "in", 1), (0, 50, "in", 1), (0, 170, "out", 1),
                   (0, 20000, "in", 1), (0, 20010, "out", 2)])
    assert sorted(reply_delays(rec)) == [30.0, 120.0]
    conv = conversations(rec).sort_values("start")
    assert conv["turns"].tolist() == [4, 1, 1]
    assert conv["started_out"].tolist() == [True, False, True]
    assert conv["replies"].tolist() == [2, 0, 0]


def _hand_made_shard() -> tuple[Timelines, Population, Stays]:
    """Two users who text each other in 40 known conversations of 5 turns, 45 s apart."""
    t, user, direction = [], [], []
    for c in range(40):
        for k in range(5):
            t.append(c * 7200.0 + 45.0 * k)
            user.append(0)
            direction.append(k % 2)  # out, in, out, ... : every turn a reply
    n = len(t)
    tl = Timelines(user=np.array(user), t_s=np.array(t), event=np.ones(n, np.int8),
                   direction=np.array(direction, np.int8), duration_s=np.zeros(n, np.float32),
                   answered=np.ones(n, bool), contact_rank=np.zeros(n, np.int16),
                   volume_bytes=np.full(n, -1, np.int64))
    data = tl.take(np.arange(3))
    data.event[:] = 2
    data.direction[:] = 0
    data.contact_rank[:] = CONTACT_NONE
    data.t_s = np.array([100.0, 200.0, 300.0]) + 0.5
    tl = Timelines.concat([tl, data]).sorted()
    pop = Population(activity=np.ones(2), home=np.zeros(2, np.int64), work=np.full(2, -1),
                     contacts=np.array([[1], [0]]), degree=np.array([1, 1]), offnet_base=10**9,
                     offnet_pool=10, new_on_network_share=1.0)
    stays = Stays(user=np.array([0, 1]), start_s=np.zeros(2), end_s=np.full(2, 86400.0 * 4),
                  place=np.array([0, 1]), period_s=86400.0 * 4, n_users=2)
    return tl, pop, stays


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conversations_are_kept_whole_and_appear_at_both_ends(seed):
    tl, pop, stays = _hand_made_shard()
    own = assemble_shard(tl, 0, pop, START, stays, np.array([10, 11]), np.random.default_rng(seed),
                         pairing="conversation")
    talk = own[own["event"] != "data"]
    assert (own["event"] == "data").sum() == 3  # data sessions kept as sampled
    conv = conversations(talk)
    assert set(conv["turns"]) == {5} and 5 <= len(conv) <= 35  # whole, about half of 40
    both = pd.concat([own, mirror_on_network(own, pop.n_users)], ignore_index=True)
    for user in (0, 1):  # the same exchange, reply delays and all, at each end
        side = both[(both["user_id"] == user) & (both["event"] != "data")]
        assert np.allclose(reply_delays(side), 45.0) and len(reply_delays(side)) == 4 * len(conv)
    out, inc = both[both["direction"] == "out"], both[(both["direction"] == "in")]
    key = ["user_id", "counterpart_id", "timestamp", "event", "duration_s", "answered"]
    flipped = out[out["event"] != "data"].rename(columns={"user_id": "counterpart_id",
                                                          "counterpart_id": "user_id"})[key]
    assert len(flipped) == len(inc)
    assert flipped.merge(inc[key], on=key, how="inner").shape[0] == len(inc)


def test_per_event_pairing_thins_conversations():
    """The previous rule, for contrast: each event kept on its own breaks conversations apart."""
    tl, pop, stays = _hand_made_shard()
    own = assemble_shard(tl, 0, pop, START, stays, np.array([10, 11]), np.random.default_rng(0),
                         pairing="half")
    assert (conversations(own[own["event"] != "data"])["turns"] < 5).mean() > 0.5


def test_conversation_scores_are_zero_for_the_same_records_and_see_a_change():
    rec = records([(u, c * 7200.0 + 40 * k, "out" if k % 2 == 0 else "in", u + 1)
                   for u in range(20) for c in range(5) for k in range(4)])
    same = CDRSample(rec, START, 7, None, "a")
    scores, skipped = conversation_scores(same, CDRSample(rec.copy(), START, 7, None, "b"))
    assert skipped == {"conversation/startback_share": "no pair of users talks both ways"}  # one-way ties
    assert all(v == 0 for k, v in scores.items() if k.endswith("/ks"))
    slower = rec.assign(timestamp=START + (rec["timestamp"] - START) * 3)
    scores, _ = conversation_scores(CDRSample(slower, START, 21, None, "slow"), same)
    assert scores["conversation/reply_delay_s/ks"] == 1.0


def test_the_startback_score_sees_a_pair_talking_back_the_same_day_or_not():
    """Users 0 and 1 start a conversation with each other every fourth day, 1's three hours after
    0's: every conversation is near the partner's; with 1's two days later, none is."""
    def both_ends(shift_days: float):
        rows = []
        for d in range(0, 16, 4):
            t0, t1 = d * 86400.0 + 36000, d * 86400.0 + 46800 + shift_days * 86400
            rows += [(0, t0, "out", 1), (1, t0, "in", 0), (1, t1, "out", 0), (0, t1, "in", 1)]
        return records(sorted(rows, key=lambda r: (r[0], r[1])))
    same = CDRSample(both_ends(0), START, 18, None, "a")
    scores, skipped = conversation_scores(same, CDRSample(both_ends(0), START, 18, None, "b"))
    assert not skipped and scores["conversation/startback_share/abs_diff"] == 0
    scores, _ = conversation_scores(CDRSample(both_ends(2), START, 18, None, "apart"), same)
    assert scores["conversation/startback_share/abs_diff"] == 1.0


def test_starter_view_keeps_the_conversations_a_user_started():
    rec = records([(0, 0, "out", 1), (0, 30, "in", 1),  # 0 starts with 1
                   (0, 9000, "in", 1), (0, 9040, "out", 1),  # 1 starts with 0
                   (0, 100, "in", 2),  # 2 starts (one turn)
                   (1, 0, "in", 0), (1, 30, "out", 0), (1, 9000, "out", 0), (1, 9040, "in", 0)])
    keep = started_by_user(rec)
    assert keep.tolist() == [True, True, False, False, False, False, False, True, True]
    both_views = pd.concat([rec[keep], mirror_on_network(rec[keep], 2)])
    # the two users' starter views, mirrored, give back each two-sided conversation exactly once
    assert len(both_views[both_views["counterpart_id"] < 2]) == 8


def test_starter_pairing_samples_each_conversation_once_by_its_starter():
    tl, pop, stays = _hand_made_shard()
    starts_in = tl.t_s < 7200 * 10  # the first 10 conversations open with an incoming SMS
    tl.direction[(tl.event != 2) & starts_in] = 1 - tl.direction[(tl.event != 2) & starts_in]
    own = assemble_shard(tl, 0, pop, START, stays, np.array([10, 11]), np.random.default_rng(0),
                         pairing="starter")
    conv = conversations(own[own["event"] != "data"])
    assert len(conv) == 30 and set(conv["turns"]) == {5} and conv["started_out"].all()
    both = pd.concat([own, mirror_on_network(own, pop.n_users)], ignore_index=True)
    assert np.allclose(reply_delays(both[both["user_id"] == 1]), 45.0)
    assert (conversations(both[both["user_id"] == 1])["started_out"] == False).all()  # noqa: E712
