"""XDR data sessions from the published per-service models (Zanella et al., IMC 2023)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import require_data

from zen.evaluation.fidelity import session_scores
from zen.evaluation.metrics import ks_statistic
from zen.evaluation.sample import CDRSample
from zen.io.dataset import read_dataset, write_dataset
from zen.sessions import MIN_DURATION_S, SessionModel, add_sessions

START = pd.Timestamp("2013-02-04", tz="UTC")


@pytest.fixture(scope="module")
def model() -> SessionModel:
    return SessionModel.load(require_data("mobile_traffic_dists"))


def test_loads_the_thirty_services(model):
    assert len(model.services) == 30 and "WhatsApp" in model.services
    assert np.isclose(model.share.sum(), 1) and np.allclose(model.weights.sum(axis=1), 1)
    netflix = model.services.index("Netflix")
    assert model.weights[netflix, 0] == pytest.approx(1 / (1 + 0.01380223230197283 + 0.0898764430784655))


def test_a_large_sample_has_the_published_shares_volumes_and_durations(model):
    rng = np.random.default_rng(0)
    service, volume, duration = model.sample(300_000, rng)
    share = np.bincount(service, minlength=len(model.services)) / len(service)
    assert np.abs(share - model.share).max() < 0.005
    for k in np.argsort(model.share)[-5:]:  # the five most common services
        ours = np.log10(volume[service == k])
        reference = model.log10_bytes_sample(int(k), 50_000, rng)
        assert ks_statistic(ours, reference) < 0.02, model.services[k]
        mean = (model.weights[k] * model.means[k]).sum()
        assert abs(ours.mean() - mean) < 0.02
    law = (volume / model.a[service]) ** (1 / model.b[service])
    np.testing.assert_allclose(duration, np.clip(law, MIN_DURATION_S, model.max_duration_s), rtol=1e-5)
    assert duration.max() == model.max_duration_s and duration.min() == np.float32(MIN_DURATION_S)


def _records() -> pd.DataFrame:
    hours = pd.to_timedelta(np.arange(6), "h")
    return pd.DataFrame({"user_id": [0, 0, 0, 1, 1, 1], "timestamp": START + hours,
                         "event": ["data", "call", "data", "sms", "data", "data"],
                         "direction": ["out", "in", "out", "out", "out", "out"],
                         "duration_s": [5.0, 60, 5, 0, 5, 5], "answered": True, "counterpart_id": -1,
                         "cell_id": -1, "volume_bytes": -1})


def test_add_sessions_marks_data_records_only(model):
    out = add_sessions(_records(), model, np.random.default_rng(1))
    data = out["event"] == "data"
    assert out.loc[data, "service"].notna().all() and out.loc[~data, "service"].isna().all()
    assert (out.loc[data, "volume_bytes"] >= 1).all() and (out.loc[~data, "volume_bytes"] == -1).all()
    assert out.loc[~data, "duration_s"].tolist() == [60.0, 0.0]


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_the_service_column_round_trips(model, tmp_path, suffix):
    records = add_sessions(_records(), model, np.random.default_rng(2))
    root = write_dataset(tmp_path / "ds", records, START, 1.0)
    if suffix == "csv":  # the same records as CSV (format=csv writes text)
        table = read_dataset(root).records
        (root / "records" / "shard-00000.parquet").unlink()
        table.to_csv(root / "records" / "shard-00000.csv", index=False)
    back = read_dataset(root).records
    assert isinstance(back["service"].dtype, pd.CategoricalDtype)
    assert back["service"].astype(object).where(back["service"].notna(), None).tolist() == \
        records["service"].astype(object).where(records["service"].notna(), None).tolist()


def test_session_scores_see_a_shifted_volume(model):
    rng = np.random.default_rng(3)
    n = 4000
    minutes = pd.to_timedelta(np.arange(n), "min")
    base = pd.DataFrame({"user_id": np.arange(n) % 40, "timestamp": START + minutes,
                         "event": "data", "direction": "out", "duration_s": 1.0, "answered": True,
                         "counterpart_id": -1, "cell_id": -1, "volume_bytes": -1})
    a, b = add_sessions(base, model, rng), add_sessions(base, model, rng)
    scores, skipped = session_scores(CDRSample(a, START, 3, None, "a"), CDRSample(b, START, 3, None, "b"))
    assert not skipped and scores["sessions/all/log10_bytes/ks"] < 0.05
    assert scores["sessions/service_share/tv"] < 0.05 and "sessions/Facebook/log10_bytes/ks" in scores
    heavy = a.assign(volume_bytes=a["volume_bytes"] * 1000)
    scores, _ = session_scores(CDRSample(heavy, START, 3, None, "heavy"), CDRSample(b, START, 3, None, "b"))
    assert scores["sessions/all/log10_bytes/ks"] > 0.5
    plain = CDRSample(_records(), START, 1, None, "plain")
    _, skipped = session_scores(plain, CDRSample(b, START, 3, None, "b"))
    assert "sessions" in skipped


def test_the_assembler_gives_sampled_data_sessions_their_service(model):
    from zen.assembly import Population, assemble_shard
    from zen.mobility.stays import Stays
    from zen.traffic.timeline import CONTACT_NONE, Timelines

    n = 500
    tl = Timelines(user=np.repeat([0, 1], n // 2), t_s=np.tile(np.arange(n // 2) * 60.0, 2),
                   event=np.full(n, 2, np.int8), direction=np.zeros(n, np.int8),
                   duration_s=np.full(n, 7.0, np.float32), answered=np.ones(n, bool),
                   contact_rank=np.full(n, CONTACT_NONE, np.int16), volume_bytes=np.full(n, -1, np.int64))
    pop = Population(activity=np.ones(2), home=np.zeros(2, np.int64), work=np.full(2, -1),
                     contacts=np.array([[1], [0]]), degree=np.array([1, 1]), offnet_base=10**9,
                     offnet_pool=10, new_on_network_share=1.0)
    stays = Stays(user=np.array([0, 1]), start_s=np.zeros(2), end_s=np.full(2, 86400.0),
                  place=np.array([0, 0]), period_s=86400.0, n_users=2)
    records = assemble_shard(tl, 0, pop, START, stays, np.array([5]), np.random.default_rng(0),
                             sessions=model)
    assert records["service"].notna().all() and (records["volume_bytes"] > 0).all()
    assert records["duration_s"].nunique() > 10 and records["service"].nunique() > 5
