"""The LSTM traffic model: fit on real users, save, load, sample new populations.

``LSTMTrafficModel`` ties the pieces together (one job each):

* ``tokenizer.py`` — the weekly clocks (one hour-of-week intensity per chronotype, time
  rescaling), the count anchor and the per-user step tensors;
* ``profiles.py`` — user profiles, the Gaussian mixture new users draw theirs from, and the
  chronotypes (daily rhythms) with their law given the profile;
* ``network.py`` — the LSTM marked point process and its log-likelihood;
* ``train_loop.py`` — truncated BPTT, early stopping, resumable checkpoints;
* ``sampler.py`` — lock-step sampling with finished users removed from the batch.

Example::

    model = LSTMTrafficModel(hidden=64)
    model.fit(train, val, trainer=trainer_cfg, work_dir=Path("run/model"),
              device=torch.device("cpu"), seed=0)
    tl = model.sample(1000, days=7, start=pd.Timestamp("2024-01-01", tz="UTC"), seed=1)
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from zen.data.base import CDRData
from zen.io import write_json_atomic
from zen.io.model_files import load_tensors, read_json, save_tensors
from zen.measures.individual import NIGHT_HOURS
from zen.measures.profiles import PROFILE_FEATURES, user_profiles
from zen.privacy import PrivacyLedger, private_clock_rate, private_gaussian_profile
from zen.schema import ZenInputError
from zen.traffic import dp_train, train_loop
from zen.traffic.network import DATA_IN, TrafficLSTM
from zen.traffic.night import NightPropensity, night_episodes
from zen.traffic.profiles import ACTIVITY, Chronotypes, ProfileDistribution, hour_of_day_counts
from zen.traffic.sampler import sample_population
from zen.traffic.timeline import Timelines
from zen.traffic.tokenizer import N_KINDS, StepBatch, WeeklyClock, encode_users, kind_of, week_offset_s

log = logging.getLogger("zen.traffic")
RUNAWAY_FACTOR = 50.0  # a user sampling this many times their profile's rate is a runaway...
RUNAWAY_MIN_PER_DAY = 200.0  # ...once past this many events per day
WEIGHTS = "lstm.pt"  # tensors only
META = "lstm.json"  # everything else
#: Standardisation of the heads' log gap / log duration in DP runs: public constants (log
#: rescaled seconds and log seconds; the mixtures adapt around them), so they cost no budget.
PUBLIC_SCALERS = {"gap_loc": 9.0, "gap_scale": 2.0, "dur_loc": 4.0, "dur_scale": 1.5}


def _cpu_threads(method: Callable) -> Callable:
    """Run ``method`` (the fit) with ``config["num_threads"]`` torch CPU threads, then restore the count.

    The model's ``num_threads`` owns training only: sampling and scoring run under the caller's
    setting (``zen-generate``'s ``torch_threads``, which owns generation).

    Per-step tensors are small; on a busy machine extra intra-op threads mostly spin (sampling
    with 2 threads was 58x slower than with 1 on the shared 2-core VM while it was busy).
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        wanted = self.config.get("num_threads")
        before = torch.get_num_threads()
        if wanted:
            torch.set_num_threads(int(wanted))
        try:
            return method(self, *args, **kwargs)
        finally:
            torch.set_num_threads(before)
    return wrapper


class LSTMTrafficModel:
    """Marked temporal point process with an LSTM, conditioned on the clock and a user profile.

    Args:
        hidden: LSTM hidden size. layers: LSTM layers.
        n_mix: log-normal mixture components of the time and duration heads.
        max_rank: contact-rank classes; ranks at or beyond the last share it.
        mark_hidden: width of the layer shared by the mark heads.
        profile_components: Gaussian-mixture components of the population profile law.
        clock_smoothing: pseudo-count of events per hour-of-week bin of the weekly clock.
        bptt: steps per truncated-BPTT chunk (the trainer's ``bptt`` wins when given).
        eval_users: users sampled for the TensorBoard figures and metrics.
        eval_days: days sampled for them.
        num_threads: torch CPU threads while fitting (None: leave torch's setting); restored
            afterwards. Sampling and scoring use the caller's setting (``torch_threads`` of
            ``zen-generate``).
        burst_share: add each user's share of gaps under 5 min to the profile (better
            inter-event times and NLL, worse hour-of-day profile on Copenhagen; see
            experiments/traffic.md).
        chronotypes: daily rhythms (k-means of the users' hour-of-day shares), one weekly clock
            each; a user's times are rescaled with their own chronotype's clock and the LSTM
            reads it (one-hot, with the profile). 1: one population clock.
        chronotype_prior: pseudo-events (spread like the population) that shrink each
            chronotype's hour-of-day shape, and each user's shares, towards the population's.
        count_anchor: the LSTM reads, at every step, how far the user's count so far is ahead
            of or behind their profile's rate (no start-up burst, no drift over long horizons;
            experiments/traffic_drift.md).
        tick_days: a silence of this many (rescaled) days gets a tick step, in training and in
            sampling, so that a long drawn gap is cut and redrawn with the count anchor updated
            (None: no ticks; 2.0 measured in experiments/traffic_drift.md).
        night_propensity: each user's chronotype clock is tilted at night by their own
            propensity (``zen.traffic.night``: fitted law per chronotype, posterior mean for
            known users, drawn for new ones); False (the default): every user of a chronotype has
            its clock (measured in experiments/conversations.md: no gain on the night-share row).
    """

    kind = "lstm"

    def __init__(self, hidden: int = 64, layers: int = 2, n_mix: int = 8, max_rank: int = 24,
                 mark_hidden: int = 64, profile_components: int = 4, clock_smoothing: float = 1.0,
                 bptt: int = 128, eval_users: int = 300, eval_days: float = 7.0,
                 burst_share: bool = False, num_threads: int | None = 1, chronotypes: int = 4,
                 chronotype_prior: float = 240.0, count_anchor: bool = True,
                 tick_days: float | None = None, night_propensity: bool = False):
        self.config = {"hidden": hidden, "layers": layers, "n_mix": n_mix, "max_rank": max_rank,
                       "mark_hidden": mark_hidden, "profile_components": profile_components,
                       "clock_smoothing": clock_smoothing, "bptt": bptt, "eval_users": eval_users,
                       "eval_days": eval_days, "burst_share": burst_share,
                       "num_threads": num_threads, "chronotypes": chronotypes,
                       "chronotype_prior": chronotype_prior, "count_anchor": count_anchor,
                       "tick_days": tick_days, "night_propensity": night_propensity}
        self.net: TrafficLSTM | None = None
        self.clock: WeeklyClock | None = None  # one clock per chronotype
        self.profiles: ProfileDistribution | None = None
        self.chronotypes: Chronotypes | None = None  # None: one population clock
        self.night: NightPropensity | None = None  # None: one clock per chronotype, no user tilt
        self._tilted: WeeklyClock | None = None  # the night-tilted clocks of self.clock (a cache)
        self.kinds: list[int] = []  # event x direction classes seen in training (the rest is never sampled)
        self.features: tuple[str, ...] = PROFILE_FEATURES
        self.profile_mean = self.profile_std = np.zeros(0)
        self.scalers: dict[str, float] = {}
        self.history_: list[dict[str, float | None]] = []  # per-epoch NLL of the last fit
        self.privacy_ledger: PrivacyLedger | None = None  # releases of a DP fit (None: not private)

    # ----------------------------------------------------------------------------- data -> tensors
    def _net_profile(self, prof: np.ndarray, chronotype: np.ndarray) -> np.ndarray:
        """The profile the network reads: standardised features + one-hot chronotype. ``[n, P']``."""
        if self.chronotypes is None:
            return prof
        return np.concatenate([prof, np.eye(self.chronotypes.n)[chronotype]], 1)

    def _encoder(self, data: CDRData) -> tuple[Callable[[np.ndarray], StepBatch], np.ndarray]:
        """A function that encodes any subset of ``data``'s users (indices into
        ``data.user_ids``), and each user's number of steps (events + 1). DP-SGD samples a new
        set of users every step; :meth:`_encode` cuts all users into fixed batches."""
        uids = data.user_ids
        tl = Timelines.from_records(data.records, data.start, user_index=uids)
        raw, contacts = user_profiles(data.records, data.days, uids, self.features)
        prof = (raw - self.profile_mean) / self.profile_std
        chrono = np.zeros(len(uids), np.int64) if self.chronotypes is None else \
            self.chronotypes.assign(hour_of_day_counts(data.records, uids))
        clock, clock_row = self.clock, chrono
        if self.night is not None:
            theta = self.night.posterior(*night_episodes(data.records, uids), chrono)
            clock, clock_row = self._night_clocks(), NightPropensity.clock_index(chrono, theta)
        activity = np.exp(raw[:, ACTIVITY]) if self.config["count_anchor"] else None
        net_prof = self._net_profile(prof, chrono)
        offset = week_offset_s(data.start)
        lengths = np.bincount(tl.user, minlength=len(uids)) + 1

        def encode(users: np.ndarray) -> StepBatch:
            return encode_users(tl, users, data.days, offset, clock, net_prof, contacts,
                                self.config["max_rank"], clock_row, activity, self._tick_s())
        return encode, lengths

    def _encode(self, data: CDRData, batch_size: int) -> list[StepBatch]:
        """Step tensors of ``data``'s users, sorted by length and cut into batches of users."""
        if len(data.records) == 0:
            return []
        encode, lengths = self._encoder(data)
        order = np.argsort(lengths, kind="stable")
        return [encode(order[i:i + batch_size]) for i in range(0, len(order), batch_size)]

    def _night_clocks(self) -> WeeklyClock:
        """The chronotype clocks tilted at night (``NightPropensity.clocks``), built once."""
        if self._tilted is None:
            self._tilted = NightPropensity.clocks(self.clock)
        return self._tilted

    def _tick_s(self) -> float | None:
        days = self.config.get("tick_days")
        return None if days is None else float(days) * 86400.0

    def _select_features(self, train: CDRData) -> None:
        """Profile features from the data's schema (whether it has data sessions: public)."""
        has_data = bool((train.records["event"].astype(str) == "data").any())
        dropped = {"logit_data_share"} if not has_data else set()
        if not self.config["burst_share"]:
            dropped.add("logit_burst_share")
        self.features = tuple(f for f in PROFILE_FEATURES if f not in dropped)
        events = train.records["event"].cat.codes.to_numpy()
        directions = train.records["direction"].cat.codes.to_numpy()
        self.kinds = sorted(int(k) for k in np.unique(kind_of(events, directions)) if k != DATA_IN)

    def _fit_population_private(self, train: CDRData, ledger: PrivacyLedger, eps_clock: float,
                                eps_profile: float, rng: np.random.Generator,
                                covariance: str = "full") -> None:
        """The weekly clock and the profile law with Laplace noise (``zen.privacy.mechanisms``);
        the scalers of the heads are public constants. One clock for all users: chronotypes are
        a clustering of users' rhythms that no mechanism here makes private."""
        self._select_features(train)
        self.chronotypes, self.night, self._tilted = None, None, None
        offset = week_offset_s(train.start)
        t_s = (train.records["timestamp"] - train.start).dt.total_seconds().to_numpy()
        rate, info = private_clock_rate(train.records["user_id"].to_numpy(), t_s + offset, offset,
                                        train.days, eps_clock, rng)
        self.clock = WeeklyClock(rate)
        ledger.private("weekly clock (hour of day x day of week)", "Laplace on user-normalised histograms",
                       eps_clock, **info)
        raw, _ = user_profiles(train.records, train.days, train.user_ids, self.features)
        mean, cov, info = private_gaussian_profile(raw, self.features, train.days, eps_profile, rng,
                                                   covariance)
        self.profile_mean, self.profile_std = mean, np.sqrt(np.diag(cov)) + 1e-6
        self.profiles = ProfileDistribution(np.ones(1), mean[None], cov[None])
        ledger.private("population profile law (one Gaussian) and profile scaling",
                       "Laplace on clipped sufficient statistics", eps_profile, **info)
        self.scalers = dict(PUBLIC_SCALERS)
        ledger.public("scalers of the time and duration heads", "public constants (no data)")
        ledger.public("profile features used and event kinds emitted",
                      "from the data's schema (which event kinds and directions it has)")

    def _fit_population(self, train: CDRData, seed: int) -> None:
        """Profile features, their scaling, the population profile law, the chronotypes and
        their weekly clocks, and the event kinds the model may emit."""
        self._select_features(train)
        uids = train.user_ids
        raw, _ = user_profiles(train.records, train.days, uids, self.features)
        self.profile_mean, self.profile_std = raw.mean(0), raw.std(0) + 1e-6
        self.profiles = ProfileDistribution.fit(raw, self.config["profile_components"], seed)
        offset = week_offset_s(train.start)
        u = (train.records["timestamp"] - train.start).dt.total_seconds().to_numpy() + offset
        self.chronotypes, chrono = None, np.zeros(len(uids), np.int64)
        if int(self.config["chronotypes"]) > 1:
            self.chronotypes, chrono = Chronotypes.fit(
                hour_of_day_counts(train.records, uids), (raw - self.profile_mean) / self.profile_std,
                int(self.config["chronotypes"]), seed)
        if self.chronotypes is None:
            self.clock = WeeklyClock.fit(u, offset, train.days, self.config["clock_smoothing"])
        else:
            event_chrono = chrono[np.searchsorted(uids, train.records["user_id"].to_numpy())]
            self.clock = WeeklyClock.fit_chronotypes(u, event_chrono, self.chronotypes.n, offset, train.days,
                                                     self.config["clock_smoothing"],
                                                     float(self.config["chronotype_prior"]))
        self.night, self._tilted = None, None
        if self.config.get("night_propensity"):
            episodes, nights = night_episodes(train.records, uids)
            self.night = NightPropensity.fit(episodes, nights, chrono, self.clock.n_clocks)

    @staticmethod
    def _scalers(batches: list[StepBatch]) -> dict[str, float]:
        gaps = torch.cat([torch.log(b.gap[b.is_event]) for b in batches]).float()
        durs = torch.cat([torch.log(b.dur_next[b.is_event & (b.dur_next > 0)]) for b in batches])
        if len(durs) < 2:
            durs = torch.tensor([0.0, 1.0])
        return {"gap_loc": float(gaps.mean()), "gap_scale": float(gaps.std()) + 1e-3,
                "dur_loc": float(durs.mean()), "dur_scale": float(durs.std()) + 1e-3}

    # ----------------------------------------------------------------------------- fit
    @_cpu_threads
    def fit(self, train: CDRData, val: CDRData | None, *, trainer: dict[str, Any], work_dir: Path,
            device: torch.device, seed: int, resume: bool = False) -> dict[str, float]:
        """Fit on ``train``'s users, early-stop on ``val``'s NLL; checkpoints in
        ``work_dir/checkpoints``, TensorBoard events in ``work_dir.parent / "tensorboard"``.

        Returns:
            ``train/nll``, ``val/nll`` (nats per event), ``epochs``, ``steps``.
        """
        device = torch.device(device)
        trainer = {"bptt": self.config["bptt"], **dict(trainer)}
        if dp_enabled(trainer):
            return self._fit_private(train, val, trainer, Path(work_dir), device, seed, resume)
        self.privacy_ledger = None
        self._fit_population(train, seed)
        batch_size = int(trainer["batch_size"])
        train_batches = self._encode(train, batch_size)
        val_batches = self._encode(val, batch_size) if val is not None and len(val.records) else []
        self.scalers = self._scalers(train_batches)
        self.net = self._build_net()
        self.net.init_weights(torch.Generator().manual_seed(seed))
        self.net.kind_allowed[:] = torch.isin(torch.arange(N_KINDS), torch.tensor(self.kinds))
        self.net.to(device)
        writer = _summary_writer(Path(work_dir).parent / "tensorboard")
        if writer is not None:
            writer.add_text("hparams", json.dumps({"model": self.config, "trainer": trainer}, default=str))

        def on_eval(epoch: int) -> None:
            if writer is not None and val is not None:
                _log_generated(writer, self, val, epoch, device)

        result = train_loop.train(self.net, train_batches, val_batches, self.scalers, trainer, Path(work_dir),
                       device, seed, resume=resume, writer=writer, on_eval=on_eval)
        if writer is not None:
            writer.close()
        self.net.eval()
        self.history_ = result.pop("history")
        return result

    def _fit_private(self, train: CDRData, val: CDRData | None, trainer: dict[str, Any], work_dir: Path,
                     device: torch.device, seed: int, resume: bool) -> dict[str, float]:
        """User-level DP: noisy side models, then DP-SGD (``dp_train``) within the rest of the
        budget. ``self.privacy_ledger`` lists every release and their composed (epsilon, delta)."""
        dp = dict(trainer["dp"])
        n = len(train.user_ids)
        if dp.get("epsilon") is not None:
            total = float(dp["epsilon"])
            side = float(dp.get("side_share", 0.2)) * total
            dp["epsilon"] = total - side
        else:
            side = float(dp.get("side_epsilon", 1.0))
        secure = bool(dp.get("secure_rng", False))
        if secure and resume:
            raise ZenInputError("resume=true with trainer.dp.secure_rng=true would draw the side models' "
                                "noise again (a second release of them); start a new run instead")
        rng = np.random.default_rng(None if secure else [seed, 31337])
        ledger = PrivacyLedger("user: every record whose user_id is that user", n)
        self._fit_population_private(train, ledger, side / 2, side / 2, rng,
                                     str(dp.get("profile_covariance", "full")))
        encode, lengths = self._encoder(train)
        has_val = val is not None and len(val.records)
        val_batches = self._encode(val, int(trainer["batch_size"])) if has_val else []
        plain = self._build_net()
        plain.init_weights(torch.Generator().manual_seed(seed))
        net = self._build_net(dp=True)
        net.load_weights(plain.weights())  # same initial weights as the non-private model
        net.kind_allowed[:] = torch.isin(torch.arange(N_KINDS), torch.tensor(self.kinds))
        net.to(device)
        writer = _summary_writer(work_dir.parent / "tensorboard")
        result = dp_train.train_private(net, encode, lengths, val_batches, self.scalers,
                                        {**trainer, "dp": dp}, work_dir, device, seed, resume, writer)
        if writer is not None:
            writer.close()
        plain.load_weights(net.weights())  # back to nn.LSTM for fast sampling
        self.net = plain.to(device).eval()
        priv = result.pop("privacy")
        ledger.private("traffic LSTM weights", f"DP-SGD (Opacus {_opacus_version()}), Poisson sampling of "
                       "users, per-user clipping of the summed gradient of the user's timeline",
                       priv["epsilon"], priv["delta"],
                       **{k: v for k, v in priv.items() if k not in ("epsilon", "delta")})
        self.privacy_ledger = ledger
        self.history_ = result.pop("history")
        return result

    def _build_net(self, dp: bool = False) -> TrafficLSTM:
        c = self.config
        n_chrono = 0 if self.chronotypes is None else self.chronotypes.n
        return TrafficLSTM(len(self.features) + n_chrono, hidden=c["hidden"], layers=c["layers"],
                           n_mix=c["n_mix"], max_rank=c["max_rank"], mark_hidden=c["mark_hidden"],
                           anchor=bool(c["count_anchor"]), ticks=c["tick_days"] is not None, dp=dp)

    # ----------------------------------------------------------------------------- save / load
    def save(self, traffic_dir: Path) -> None:
        """Weights (tensors only) in ``lstm.pt``; config, clocks, profile and chronotype laws,
        scalers and the event kinds seen in training in ``lstm.json``."""
        traffic_dir = Path(traffic_dir)
        traffic_dir.mkdir(parents=True, exist_ok=True)
        meta = {"config": self.config, "features": list(self.features),
                "clock_rate": self.clock.rate.cpu().numpy().tolist(), "profiles": self.profiles.state_dict(),
                "chronotypes": None if self.chronotypes is None else self.chronotypes.state_dict(),
                "night": None if self.night is None else self.night.state_dict(), "kinds": self.kinds,
                "profile_mean": self.profile_mean.tolist(), "profile_std": self.profile_std.tolist(),
                "scalers": self.scalers}
        save_tensors({"model": self.net.weights()}, traffic_dir / WEIGHTS)
        write_json_atomic(meta, traffic_dir / META)

    @classmethod
    def load(cls, traffic_dir: Path, device: torch.device | str = "cpu") -> LSTMTrafficModel:
        """Rebuild the model from ``traffic_dir``: tensors only from the checkpoint, never code."""
        path = Path(traffic_dir) / WEIGHTS
        if not path.exists():
            raise ZenInputError("no LSTM weights in the model folder; run zen-train model=lstm", str(path))
        meta = read_json(Path(traffic_dir) / META, "the LSTM's settings")
        weights = load_tensors(path).get("model")
        try:
            # folders written before chronotypes and the count anchor: one clock, no anchor
            model = cls(**{"chronotypes": 1, "count_anchor": False, "tick_days": None,
                           "night_propensity": False, **meta["config"]})
            model.features = tuple(meta["features"])
            model.clock = WeeklyClock(np.asarray(meta["clock_rate"]))
            model.profiles = ProfileDistribution.from_state_dict(meta["profiles"])
            if meta.get("chronotypes") is not None:
                model.chronotypes = Chronotypes.from_state_dict(meta["chronotypes"])
            if meta.get("night") is not None:
                model.night = NightPropensity.from_state_dict(meta["night"])
            model.kinds = [int(k) for k in meta.get("kinds", [])]
            model.profile_mean = np.asarray(meta["profile_mean"])
            model.profile_std = np.asarray(meta["profile_std"])
            model.scalers = dict(meta["scalers"])
            model.net = model._build_net()
            model.net.load_weights(weights)  # DP-trained or not
            if "kinds" not in meta:  # older folders: the kinds are the weights' kind_allowed mask
                model.kinds = model.net.kind_allowed.nonzero()[:, 0].tolist()
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ZenInputError("the LSTM's weights and settings do not fit together "
                                f"({type(err).__name__}); use a model folder written by zen-train",
                                str(traffic_dir)) from err
        model.net.to(device).eval()
        return model

    # ----------------------------------------------------------------------------- sample / score
    def sample_activity(self, n_users: int, rng: np.random.Generator) -> np.ndarray:
        """Expected events per day of ``n_users`` new users. ``[n_users]``."""
        return np.exp(self.profiles.sample(n_users, rng)[:, ACTIVITY])

    def _draw_users(self, n_users: int, rng: np.random.Generator, activity: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, WeeklyClock, np.ndarray]:
        """New users' raw and standardised profiles, chronotypes, the clocks in use and each
        user's row of them: the draws of :meth:`sample` before its network runs (the only uses
        of ``rng`` there), shared with :meth:`night_tendency` so both see the same users."""
        if activity is None:
            raw = self.profiles.sample(n_users, rng)
        else:
            activity = np.asarray(activity, np.float64)
            if activity.shape != (n_users,) or not np.all(activity > 0):
                raise ZenInputError(f"activity must be {n_users} positive events/day values")
            raw = self.profiles.sample_given_activity(np.log(activity), rng)
        prof = (raw - self.profile_mean) / self.profile_std
        prof[:, self.profile_std < 1e-5] = 0.0  # constant in training (data-only users' call share...):
        # the profile law's jitter would be blown up by 1/std and drive the time head off its range
        chrono = np.zeros(n_users, np.int64) if self.chronotypes is None else \
            self.chronotypes.sample(prof, rng)
        clock, clock_row = self.clock, chrono
        if self.night is not None:  # drawn after the chronotypes: without it, the same draws as before
            rows, clock_row = np.unique(NightPropensity.clock_index(chrono, self.night.sample(chrono, rng)),
                                        return_inverse=True)
            # only the rows in use: a shorter clock search per sampler step (20,000 users x 7 days:
            # 1.19x the time without tilts with all K x G rows, ~1.05x so; experiments/conversations.md)
            clock = WeeklyClock(self._night_clocks().rate[torch.as_tensor(rows)])
        return raw, prof, chrono, clock, clock_row

    def night_tendency(self, n_users: int, seed: int, activity: np.ndarray | None = None) -> np.ndarray:
        """Each new user's expected night share (events at 00-06 h of the model's clock): the
        night share of the clock :meth:`sample` with the same arguments gives the user (their
        chronotype's, tilted by their night propensity when the model has one). ``[n_users]``."""
        _, _, _, clock, clock_row = self._draw_users(n_users, np.random.default_rng(seed), activity)
        rate = clock.rate.cpu().numpy()  # [rows, 168], hour 0 = Monday 00:00
        hour = np.arange(rate.shape[1]) % 24
        night = (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])
        share = rate[:, night].sum(1) / rate.sum(1)
        return share[np.asarray(clock_row, np.int64)]

    def sample(self, n_users: int, days: float, start: pd.Timestamp, seed: int,
               device: torch.device | str = "cpu", activity: np.ndarray | None = None) -> Timelines:
        """Events of ``n_users`` new users over ``[0, days * 86400)`` s from ``start`` (UTC).

        Profiles are drawn from the fitted population law (conditioned on ``activity``, events
        per day ``[n_users]``, when given), chronotypes from their law given the profile. Same
        seed, same device => same timelines.
        """
        raw, prof, chrono, clock, clock_row = self._draw_users(n_users, np.random.default_rng(seed), activity)
        contacts = np.ones(n_users, np.int64)
        if "log_contacts" in self.features:
            contacts = np.maximum(np.rint(np.exp(raw[:, self.features.index("log_contacts")])), 1)
        device = torch.device(device)
        net = self.net.to(device).eval()
        prof = torch.tensor(self._net_profile(prof, chrono), dtype=torch.float32, device=device)
        gen = torch.Generator(device=device).manual_seed(int(seed))
        rate = np.exp(raw[:, ACTIVITY])
        cap = np.ceil(np.maximum(RUNAWAY_FACTOR * rate, RUNAWAY_MIN_PER_DAY) * days)
        tl = sample_population(net, clock.to(device), prof,
                               torch.as_tensor(contacts, dtype=torch.long, device=device),
                               self.scalers, days * 86400.0, week_offset_s(start), gen,
                               chronotype=torch.as_tensor(clock_row, device=device),
                               activity=torch.as_tensor(rate, device=device), tick_s=self._tick_s(),
                               max_events=torch.as_tensor(cap, device=device))
        runaway = int((np.bincount(tl.user, minlength=n_users) >= cap).sum())
        if runaway:
            log.warning("%d of %d users reached %g x their profile's rate and were stopped: the model "
                        "samples runaway bursts (retrain it, or check its training data)", runaway, n_users,
                        RUNAWAY_FACTOR)
        return tl

    def nll_per_event(self, data: CDRData, device: torch.device | str = "cpu") -> float:
        """Mean NLL per event (nats) of event times (density in seconds, including no event
        between the last one and the window end) + event kind (type x direction), each user
        conditioned on the profile (and chronotype) computed from their own records: the
        protocol's measure (:meth:`zen.traffic.base.TrafficModel.nll_per_event`). All heads
        (outcome, duration, contact rank too) are ``nll_breakdown(data)["total"]``. Kinds never
        seen in training have probability 0 here as in sampling: one such event adds ~1e9 nats."""
        parts = self.nll_breakdown(data, device)
        return parts["time"] + parts["kind"]

    @torch.no_grad()
    def nll_per_user(self, data: CDRData, device: torch.device | str = "cpu") -> np.ndarray:
        """Each user's NLL per step (nats; events + the final survival step), in the order of
        ``data.user_ids``: what a white-box membership attack scores. ``[n_users]``."""
        device = torch.device(device)
        net = self.net.to(device).eval()
        encode, lengths = self._encoder(data)
        order = np.argsort(lengths, kind="stable")
        out = np.zeros(len(lengths))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            batch = encode(idx).to(device)
            h, _ = net(batch)
            parts = net.nll(batch, h, self.scalers, per_user=True)
            out[idx] = (sum(parts.values()) / torch.as_tensor(lengths[idx], device=device)).cpu().numpy()
        return out

    def nll_breakdown(self, data: CDRData, device: torch.device | str = "cpu") -> dict[str, float]:
        """:meth:`nll_per_event` per head (``time``, ``kind``, ``outcome``, ``duration``,
        ``rank``) and their ``total``."""
        device = torch.device(device)
        return train_loop.evaluate_nll(self.net.to(device), self._encode(data, 64), self.scalers, device)


def dp_enabled(trainer: dict[str, Any]) -> bool:
    """True when the trainer config asks for DP-SGD (a target epsilon or a noise multiplier)."""
    dp = trainer.get("dp") or {}
    return dp.get("epsilon") is not None or dp.get("noise_multiplier") is not None


def _opacus_version() -> str:
    import opacus

    return opacus.__version__


def _summary_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a dependency; run without events if it is missing
        return None
    return SummaryWriter(log_dir=str(log_dir))


def _log_generated(writer, model: LSTMTrafficModel, real: CDRData, epoch: int, device: torch.device) -> None:
    """Sample users, log issue 2's metrics against ``real`` and a figure of both distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zen.measures.traffic import call_durations, first_metrics, hour_of_day_profile, inter_event_times

    days = float(model.config["eval_days"])
    tl = model.sample(int(model.config["eval_users"]), days, real.start, seed=epoch, device=device)
    synth = tl.to_records(real.start)
    for k, v in first_metrics(real.records, synth, real.days, days).items():
        writer.add_scalar(f"eval/{k}", v, epoch)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, f, title in ((axes[0], inter_event_times, "log10 inter-event time (s)"),
                         (axes[1], call_durations, "log10 call duration (s)")):
        for df, label in ((real.records, "real"), (synth, "generated")):
            x = f(df)
            ax.hist(np.log10(x[x > 0]), bins=40, density=True, histtype="step", label=label)
        ax.set_title(title)
    for df, label in ((real.records, "real"), (synth, "generated")):
        p = hour_of_day_profile(df)
        axes[2].plot(p / max(p.sum(), 1), label=label)
    axes[2].set_title("hour of day (UTC)")
    axes[0].legend()
    writer.add_figure("eval/generated_vs_real", fig, epoch)
    plt.close(fig)
