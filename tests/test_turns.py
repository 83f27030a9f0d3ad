"""The turns of a conversation (zen.traffic.turns): the fit on hand-made conversations with a known
chain, the continuation of sampled timelines, and the fit on Copenhagen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.measures.conversations import conversations, reply_delays
from zen.schema import ZenInputError
from zen.traffic.timeline import Timelines
from zen.traffic.turns import HOW, KINDS, N_OUTCOMES, TurnLaw, chattiness, fit_records, refill, repace

START = pd.Timestamp("2013-02-04", tz="UTC")
DAY = 86400.0


def _known_conversations(n: int, seed: int = 0, go_on: float = 0.7, reply_s: float = 120.0,
                         same_s: float = 20.0) -> pd.DataFrame:
    """SMS conversations of user pairs (2k, 2k+1), one every 3 hours: after each event the
    conversation goes on with probability ``go_on``; the next event is a reply (other side) with
    probability 0.8 after an exponential pause of mean ``reply_s`` seconds, else the same side
    after one of mean ``same_s``. Both ends' records (two-sided, as Copenhagen)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        a = 2 * (c % 20)
        t, side = 3 * 3600.0 * (c // 20), 0
        while True:
            rows.append((a, a + 1, t, side))
            if rng.random() >= go_on:
                break
            reply = rng.random() < 0.8
            t += rng.exponential(reply_s if reply else same_s)
            side ^= int(reply)
    out = []
    for a, b, t, side in rows:
        stamp = START + pd.Timedelta(seconds=t)
        out.append((a, stamp, "out" if side == 0 else "in", b))
        out.append((b, stamp, "in" if side == 0 else "out", a))
    frame = pd.DataFrame(out, columns=["user_id", "timestamp", "direction", "counterpart_id"])
    frame["event"] = pd.Categorical(["sms"] * len(frame), ["call", "sms", "data"])
    frame["direction"] = pd.Categorical(frame["direction"], ["out", "in"])
    frame["duration_s"] = np.float32(0)
    frame["answered"] = True
    frame["cell_id"], frame["volume_bytes"] = -1, -1
    return frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def test_the_fit_recovers_a_known_chain():
    records = _known_conversations(6000)
    law = TurnLaw.from_dict(fit_records(records, np.arange(40)))
    sms = KINDS.index("sms")
    assert law.next_probs.shape[-1] == N_OUTCOMES and np.allclose(law.next_probs.sum(-1), 1)
    day, two_way = 0, 1
    for how in (2, 3):  # after a reply, and after a same-side event that follows a reply
        p = law.next_probs[:, day, two_way, sms, how, 1:3].mean((0, 1))  # all users alike
        assert abs(p[0] - 0.3) < 0.04, p  # the end
        assert abs(p[2] / (p[1] + p[2]) - 0.8) < 0.05, p  # a reply (SMS, other side)
        assert p[3:].sum() == 0  # never a call
    # a two-way conversation never ends before its first reply; a one-way one never replies
    assert law.next_probs[:, day, two_way, sms, 0:2, :, 0].max() == 0
    assert law.next_probs[:, :, 0, :, :, :, 2::2].max() == 0
    # pauses: medians of the exponentials (ln 2 x mean), same side and reply
    assert abs(law.pause_quantiles[1, day, sms, 1, 20] / (np.log(2) * 120) - 1) < 0.15
    assert abs(law.pause_quantiles[1, day, sms, 0, 20] / (np.log(2) * 20) - 1) < 0.2


def test_a_pair_with_known_reply_delays_gets_them_back():
    records = _known_conversations(6000)
    law = TurnLaw.from_dict(fit_records(records, np.arange(40)))
    tl = Timelines.from_records(records, START)  # as if the traffic model had sampled them
    out = refill(tl, law, 60 * DAY, np.random.default_rng(1))
    rec = out.to_records(START)
    rec["counterpart_id"] = out.contact_rank.astype(np.int64)
    real = conversations(records)
    got = conversations(rec)
    mean, want_mean = got["turns"].mean(), real["turns"].mean()
    assert abs(mean / want_mean - 1) < 0.1, (mean, want_mean)
    assert abs(np.mean(got["turns"] == 1) - np.mean(real["turns"] == 1)) < 0.03
    delay, want = np.median(reply_delays(rec)), np.median(reply_delays(records))
    assert abs(delay / want - 1) < 0.12, (delay, want)
    assert len(out) <= len(tl) + got["turns"].max()  # within the sampled events (and one conversation)


def _timeline(t_s, rank, direction=None, event=None, user=None) -> Timelines:
    n = len(t_s)
    return Timelines(user=np.zeros(n, np.int64) if user is None else np.asarray(user, np.int64),
                     t_s=np.asarray(t_s, np.float64),
                     event=np.full(n, 1, np.int8) if event is None else np.asarray(event, np.int8),
                     direction=np.zeros(n, np.int8) if direction is None else np.asarray(direction, np.int8),
                     duration_s=np.zeros(n, np.float32), answered=np.ones(n, bool),
                     contact_rank=np.asarray(rank, np.int16), volume_bytes=np.full(n, -1, np.int64))


def _replying(pause_s: float = 600.0) -> TurnLaw:
    """A chain in which two-way conversations never end (replies only) and one-way ones end at
    once, with pauses of exactly ``pause_s``."""
    probs = np.zeros((3, 2, 2, len(KINDS), len(HOW), 5, N_OUTCOMES))
    probs[:, :, 0, ..., 0] = 1.0  # one-way: the end
    probs[:, :, 1, ..., 2] = 1.0  # two-way: an SMS from the other side
    return TurnLaw(probs, np.full((3, 2, len(KINDS), 2, 41), pause_s), np.zeros(41))


def test_a_continuation_keeps_the_first_event_and_never_reaches_the_pairs_next_conversation():
    # rank 0: a two-way conversation at 0 h (30 sampled events), another at 5 h; rank 1 (one
    # way) at 1 h; a data session at 2 h
    t = np.r_[np.arange(30) * 100.0, 3600, 7200, 5 * 3600]
    tl = _timeline(t, np.r_[np.zeros(30), 1, -2, 0], direction=np.r_[np.arange(30) % 2, 0, 0, 1],
                   event=np.r_[np.ones(30), 1, 2, 1])
    out = refill(tl, _replying(), DAY / 4, np.random.default_rng(0))
    assert np.all(np.diff(out.t_s) >= 0)
    first = out.t_s[(out.contact_rank == 0) & (out.t_s < 5 * 3600)]
    # continued every 600 s, up to the pair's next conversation less the gap (5 h - 1 h)
    assert first[0] == 0 and np.allclose(np.diff(first), 600) and 4 * 3600 - 600 <= first[-1] < 4 * 3600
    assert 100.0 not in out.t_s  # the traffic model's own second turn is replaced
    assert out.t_s[out.contact_rank == 1].tolist() == [3600.0]  # one-way: it ends at once
    assert out.t_s[out.event == 2].tolist() == [7200.0]  # the data session is kept as sampled
    assert out.t_s.max() < DAY / 4  # never past the window
    d = out.direction[(out.contact_rank == 0) & (out.t_s < 5 * 3600)]
    assert d.tolist() == [i % 2 for i in range(len(first))]  # replies alternate from the opener
    assert (out.contact_rank == 0).sum() <= 31  # within the user's sampled events with ties


def test_each_users_conversations_share_out_their_sampled_events():
    # ten two-way conversations of two sampled events each (20 events), two hours apart: the
    # chain continues each every 600 s up to the next one less the gap (3,000 s), 7 events each
    t = np.r_[[[k * 7200.0, k * 7200.0 + 60] for k in range(10)]].ravel()
    tl = _timeline(t, np.zeros(20), direction=np.arange(20) % 2)
    window = 9 * 7200.0 + 4200
    out = refill(tl, _replying(), window, np.random.default_rng(2), gap_s=3000.0)
    kept, events = np.unique(np.floor(out.t_s / 7200), return_counts=True)
    # exactly the 20 sampled events: two whole conversations and the first 6 events of a third
    assert len(out) == 20 and sorted(events.tolist()) == [6, 7, 7], (kept, events)
    again = refill(tl, _replying(), window, np.random.default_rng(2), gap_s=3000.0)
    assert again.t_s.tolist() == out.t_s.tolist()


def test_new_contacts_are_kept_as_sampled():
    tl = _timeline([0, 10, 20000, 40000], [-1, -1, 2, 3])
    out = refill(tl, _replying(5000.0), DAY, np.random.default_rng(0))  # pauses over the gap
    assert out.t_s.tolist() == tl.t_s.tolist()


def test_the_pauses_option_keeps_the_traffic_models_turns():
    tl = _timeline([0, 100, 2000, 3 * 3600, 3 * 3600 + 50, 7200], [0, 0, 0, 0, 0, 1],
                   direction=[0, 1, 1, 0, 0, 0])
    out = repace(tl, _replying(30.0), DAY, np.random.default_rng(0))
    assert out.t_s.tolist() == [0, 30, 60, 7200, 3 * 3600, 3 * 3600 + 30]
    assert out.direction.tolist() == [0, 1, 1, 0, 0, 0]


def test_chattiness_classes_are_terciles_of_events_per_conversation():
    user = np.repeat(np.arange(9), 3)
    size = np.repeat(np.arange(9) + 1, 3)
    classes = chattiness(np.r_[user, 9], np.r_[size, 50], 11)
    assert classes[:9].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert classes[9] == 1 and classes[10] == 1  # too few conversations, none


def test_on_copenhagen_the_chain_is_a_real_one(copenhagen):
    law = TurnLaw.from_dict(fit_records(copenhagen.records, copenhagen.user_ids))
    sms = KINDS.index("sms")
    end_after_opening = law.next_probs[:, 0, 0, sms, 0, 0, 0]  # day, one way
    assert end_after_opening[0] > end_after_opening[2] > 0.3  # chattier users' go on more often
    assert law.next_probs[:, 0, 1, sms, 0, 0, 0].max() == 0  # a two-way one is replied to
    night, day = law.next_probs[1, :, 1, sms, 2, 2, 0]
    assert night > day  # night conversations end sooner
    reply_median = law.pause_quantiles[1, 0, sms, 1, 20]
    assert 30 < reply_median < 300, reply_median  # real SMS replies: about a minute and a half


def test_an_unknown_turns_setting_is_one_clear_line():
    from zen.generation.spec import GenerationSpec

    with pytest.raises(ZenInputError, match="unknown turns 'maybe'; use pauses, chain or none"):
        GenerationSpec(n_users=10, days=1, turns="maybe")


@pytest.mark.parametrize("turns", ["pauses", "chain"])
def test_turns_in_generation_keep_the_counting_rule_and_none_is_an_old_model(model_dir, tmp_path, turns):
    """End to end (300 users in 3 shards, 10 days): the same records for 1 and 2 workers; every
    on-network ``out`` has exactly one matching ``in`` (same time, event, duration, answered);
    ``turns=none`` gives the records of a model folder fitted before the option."""
    import json
    import shutil

    from conftest import small_generate_config

    from zen.io.dataset import read_dataset
    from zen.stages.generate import generate

    assert json.loads((model_dir / "social.json").read_text())["turns"]["conversations"] > 1000

    def run(name: str, model=model_dir, **extra):
        generate(small_generate_config(model, tmp_path / name, pairing="starter", days=10, **extra))
        ds = read_dataset(tmp_path / name)
        return ds, {k: v for k, v in ds.manifest["checksums"].items() if k.startswith("records")}

    one, sums = run("one", turns=turns, workers=1)
    assert run("two", turns=turns, workers=2)[1] == sums
    rec = one.records
    on = rec[(rec["event"].astype(str) != "data") & (rec["counterpart_id"] >= 0)
             & (rec["counterpart_id"] < int(one.manifest["n_users"]))]
    key = ["timestamp", "event", "duration_s", "answered"]
    out = on[on["direction"] == "out"].rename(columns={"user_id": "a", "counterpart_id": "b"})
    inc = on[on["direction"] == "in"].rename(columns={"user_id": "b", "counterpart_id": "a"})
    cols = ["a", "b", *key]
    sent = out[cols].sort_values(cols, kind="stable").reset_index(drop=True)
    received = inc[cols].sort_values(cols, kind="stable").reset_index(drop=True)
    assert len(sent) > 1000
    pd.testing.assert_frame_equal(sent, received)
    old = tmp_path / "old-model"
    shutil.copytree(model_dir, old)
    fitted = json.loads((old / "social.json").read_text())
    del fitted["turns"]
    (old / "social.json").write_text(json.dumps(fitted))
    none = run("none", turns="none")[1]
    assert run("old", model=old)[1] == none != sums
