"""The user split and what a model folder keeps of it (sizes, seed, digest; never the ids)."""

from __future__ import annotations

import json

import numpy as np

from zen.data.split import split_users


def test_the_split_record_names_no_user_and_its_digest_checks_the_split():
    ids = 4520000000 + np.arange(100) * 7
    split = split_users(ids, seed=3)
    record = split.record(seed=3)
    text = json.dumps({k: v for k, v in record.items() if k != "sha256"})
    assert not any(str(i) in text for i in ids)  # no user id in what model.json keeps
    assert record["sizes"] == {"train": 60, "val": 15, "holdout": 25} and record["seed"] == 3
    assert split_users(ids[::-1], seed=3).digest() == record["sha256"]  # recomputed: the same split
    assert split_users(ids, seed=4).digest() != record["sha256"]  # another seed
    assert split_users(np.append(ids, 5000), seed=3).digest() != record["sha256"]  # other data
