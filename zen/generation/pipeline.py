"""Generation as pure steps over user shards.

``build_population`` makes the population-wide state (activity levels, home/work anchors, the
social graph); then three passes over the shards (:func:`shard_bounds`):

1. :func:`sample_shard` samples a shard's traffic and mobility and keeps them under ``.work``,
   with the conversations each user starts per day (the partner choice of
   ``zen.network.partners`` weighs every tie by its own activity that day, so every shard is
   sampled before any is assembled);
   with start-backs (``zen.network.startbacks``) or the hand-over (``zen.network.starters``),
   :func:`choose_shard` then draws every shard's final counterparts and keeps its users'
   conversations with lower-index ties and per counterpart, which the next pass reads;
2. :func:`generate_shard` assembles its users' own records with cells and counterparts
   (``zen.assembly``), and hands the mirror records of on-network calls/SMS whose other user is
   in another shard to that shard (``.work/pending/``);
3. :func:`resolve_mirrors` gives a shard's pending mirror records their user's serving cell
   (from the stays the first pass saved).

:func:`finish` writes the population tables and the manifest. Each shard step depends only on
its arguments and on files under ``layout``, returns its counts and timings (:class:`ShardResult`)
and leaves a marker when it is done, so shards may run in any order, in a process pool or on
Ray, and a rerun resumes from the finished ones. ``mode=mobility`` runs :func:`generate_stays`
per shard and :func:`finish_stays`. Seeds come from ``zen.seeds``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from zen import SCHEMA_VERSION, __version__
from zen.assembly import Population, assemble_shard, mirror_on_network
from zen.assembly.assembler import kept_conversations, shard_counterparts, started_conversations
from zen.assembly.export import write_bandicoot
from zen.checks import resolve_device
from zen.data.local_time import utc_from_local_clock, utc_start
from zen.generation.layout import Layout
from zen.generation.spec import GenerationSpec
from zen.io.dataset import write_manifest
from zen.io.model_files import read_json
from zen.io.storage import Store
from zen.mobility.places import published_places
from zen.network.partners import (
    DAY_S,
    HOUR_BINS,
    PairDays,
    day_activity,
    day_factor,
    hour_activity,
    hour_factor,
)
from zen.network.startbacks import Spans, StartbackPlan
from zen.network.starters import StarterPlan
from zen.schema import ZenInputError, validate
from zen.seeds import component_seed
from zen.sessions import SessionModel
from zen.traffic.base import TrafficModel, load_traffic_model
from zen.traffic.timeline import Timelines
from zen.traffic.turns import with_turns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Models:
    """What ``zen-train`` saved in a model folder: the fitted models and ``model.json``."""

    traffic: TrafficModel
    social: object  # zen.network.SocialParams
    mobility: object  # zen.mobility.MobilityParams
    info: dict
    path: Path
    sessions: SessionModel | None = None  # XDR session laws for data records (zen.sessions)
    coupling: object | None = None  # zen.coupling.CouplingModel (coupling.json), when trained with cells


@dataclass(frozen=True)
class Shard:
    """Users ``first..end-1`` of the population, the ``index``-th shard."""

    index: int
    first: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.first


@dataclass(frozen=True)
class ShardResult:
    """What a shard step did: rows written and seconds spent, by part."""

    shard: int
    rows: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def load_models(model_dir: str | Path, device="cpu") -> Models:
    """The traffic model, social-graph and mobility parameters saved by ``zen-train``."""
    from zen.mobility import MobilityParams
    from zen.network import SocialParams

    model_dir = Path(model_dir)
    if not (model_dir / "model.json").exists():
        raise ZenInputError("not a Zen model folder (no model.json); pass model_dir=<the 'model' "
                            "folder that zen-train wrote>", str(model_dir))
    traffic = load_traffic_model(model_dir, device)
    if not (model_dir / "social.json").exists():
        raise ZenInputError("the model folder has no social.json; retrain it with zen-train",
                            str(model_dir))
    social = SocialParams.load(model_dir / "social.json")
    mobility = MobilityParams.load(model_dir / "mobility.json") \
        if (model_dir / "mobility.json").exists() else MobilityParams()
    coupling = None
    if (model_dir / "coupling.json").exists():
        from zen.coupling import CouplingModel

        coupling = CouplingModel.load(model_dir / "coupling.json")
    return Models(traffic, social, mobility, read_json(model_dir / "model.json", "model.json"), model_dir,
                  coupling=coupling)


def shard_bounds(spec: GenerationSpec) -> list[Shard]:
    """The shards of ``spec``'s population, ``spec.shard_users`` users each (the last may be smaller)."""
    return [Shard(s, lo, min(spec.n_users, lo + spec.shard_users))
            for s, lo in enumerate(range(0, spec.n_users, spec.shard_users))]


def shard_of(spec: GenerationSpec, user_id: np.ndarray) -> np.ndarray:
    """Index of the shard that holds each population user id."""
    return np.asarray(user_id, dtype=np.int64) // spec.shard_users


def build_population(spec: GenerationSpec, models: Models,
                     places: pd.DataFrame) -> tuple[Population, pd.DataFrame]:
    """Activity levels, home/work anchors and the social graph of the whole population.

    The state is kept in the narrowest dtypes that hold its values (int32 places and ids, the
    degree in uint8 for ``ties_per_user`` < 256): 145 bytes per user at ``ties_per_user=32``, plus
    the edges.

    Returns:
        the population state and the social graph's edges (``src, dst, weight``).
    """
    from zen.mobility.population import population_anchors
    from zen.network import OFFNET_BASE, contact_table, generate_social_graph

    n_users, seed = spec.n_users, spec.seed
    rng = np.random.default_rng(component_seed(seed, "activity"))
    activity = models.traffic.sample_activity(n_users, rng)
    home, work = (a.astype(np.int32) for a in population_anchors(places, n_users, models.mobility, seed))
    lat, lon = places["lat"].to_numpy(), places["lon"].to_numpy()
    night, target = night_tendencies(spec, models, activity)
    edges = generate_social_graph(models.social, lat[home], lon[home], activity,
                                  component_seed(seed, "graph"), night=night, night_target=target)
    contacts = contact_table(edges, n_users, spec.ties_per_user)
    pop = Population(activity=activity, home=home, work=work, contacts=contacts,
                     degree=(contacts >= 0).sum(axis=1, dtype=np.min_scalar_type(spec.ties_per_user)),
                     offnet_base=OFFNET_BASE,
                     offnet_pool=max(1, int(spec.offnet_pool_per_user * n_users)),
                     new_on_network_share=1.0 - float(models.social.offnet_share))
    return pop, edges


RELIABILITY_USERS = 1000  # new users sampled to measure how much of a night share the tendency sets


def night_target(spec: GenerationSpec, models: Models) -> float | None:
    """The correlation of night tendencies across ties this run's graph aims at
    (``spec.night_assortativity``: a number is that correlation; ``fit`` is the model's fitted
    correlation of partners' own night shares, ``social.json`` ``night_assortativity``, over
    :func:`tendency_reliability`, capped at 1); None: none."""
    value = spec.night_assortativity
    if value == "fit":
        fitted = float(getattr(models.social, "night_assortativity", 0.0))
        reliability = float(getattr(models.social, "night_tendency_r2", 0.0))
        if fitted <= 0 or reliability <= 0:  # older model folders: the graph as before
            return None
        value = min(1.0, fitted / reliability)
        log.info("night assortativity: fitted %.3f, R² %.3f, tendency target %.3f",
                 fitted, reliability, value)
    return float(value) if value else None


def tendency_reliability(traffic: TrafficModel, days: float, start: pd.Timestamp, seed: int = 0,
                         n_users: int = RELIABILITY_USERS) -> float:
    """R², over ``n_users`` new users sampled for ``days`` from ``start``, between a user's night
    tendency (``traffic.night_tendency``) and the night share of their sampled events (users with
    at least ``NIGHT_MIN_EVENTS`` events): partners whose tendencies correlate ρ have own night
    shares that correlate about ρ·R² (the rest of a night share is the user's own noise).
    ``zen-train`` stores it in ``social.json`` (``night_tendency_r2``); 0 for a model without
    per-user clocks."""
    from zen.measures.individual import NIGHT_HOURS
    from zen.network.social import NIGHT_MIN_EVENTS
    from zen.traffic.tokenizer import week_offset_s

    if not hasattr(traffic, "night_tendency"):
        return 0.0
    n = int(n_users)
    activity = traffic.sample_activity(n, np.random.default_rng(seed))
    tendency = traffic.night_tendency(n, seed, activity)
    tl = traffic.sample(n, days, start, seed, device="cpu", activity=activity)
    hour = np.floor((tl.t_s + week_offset_s(start)) / 3600.0).astype(np.int64) % 24
    count = np.bincount(tl.user, minlength=n)
    night = (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])
    share = np.bincount(tl.user, weights=night, minlength=n) / np.maximum(count, 1)
    ok = count >= NIGHT_MIN_EVENTS
    if ok.sum() < 3 or tendency[ok].std() == 0 or share[ok].std() == 0:
        return 0.0
    return float(np.corrcoef(tendency[ok], share[ok])[0, 1] ** 2)


def night_tendencies(spec: GenerationSpec, models: Models,
                     activity: np.ndarray) -> tuple[np.ndarray | None, float | None]:
    """Each user's night tendency, as each shard's traffic sampling will draw it (the same seed
    and activity as :func:`sample_shard`), and the target of :func:`night_target`; (None, None)
    without a target or when the traffic model has no per-user clock."""
    if spec.night_assortativity is None:
        return None, None
    tendency = getattr(models.traffic, "night_tendency", None)
    if tendency is None:
        if spec.night_assortativity == "fit":  # the default: a model without per-user clocks
            return None, None
        log.warning("night_assortativity=%s needs a traffic model with per-user clocks; the %s model "
                    "has none: the graph is not assortative by night", spec.night_assortativity,
                    type(models.traffic).__name__)
        return None, None
    target = night_target(spec, models)
    if target is None:
        return None, None
    night = np.concatenate([tendency(sh.size, component_seed(spec.seed, "traffic", sh.index),
                                     activity[sh.first:sh.end]) for sh in shard_bounds(spec)])
    return night, target


def population_users(pop: Population, place_cell: np.ndarray) -> pd.DataFrame:
    """The users table: home and work cell, and an activity quartile as ``profile``."""
    users = pd.DataFrame({
        "user_id": np.arange(pop.n_users, dtype=np.int64),
        "home_cell": place_cell[pop.home],
        "work_cell": np.where(pop.work >= 0, place_cell[np.maximum(pop.work, 0)], -1),
        "profile": np.digitize(pop.activity, np.quantile(pop.activity, [0.25, 0.5, 0.75]))})
    return validate(users, "users", "<users>")


def _seconds(records: pd.DataFrame, start: pd.Timestamp) -> np.ndarray:
    return (records["timestamp"] - start).dt.total_seconds().to_numpy()


def _stays_frame(stays, user_ids: np.ndarray, spec: GenerationSpec) -> pd.DataFrame:
    """The stays table with its wall-clock times (the model's zone) written as UTC instants."""
    frame = stays.to_frame(user_ids, spec.start)
    return frame.assign(start=utc_from_local_clock(frame["start"], spec.timezone),
                        end=utc_from_local_clock(frame["end"], spec.timezone))


def _utc_days(timestamps: pd.Series) -> np.ndarray:
    """``[n]`` numpy ``datetime64[D]`` UTC day of each (UTC) timestamp; ``str()`` of one is its
    ``YYYY-MM-DD`` (formatting every timestamp with ``strftime`` took ~5 % of a run)."""
    naive = timestamps.dt.tz_convert(None) if timestamps.dt.tz is not None else timestamps
    return naive.to_numpy().astype("datetime64[D]")


def _write_by_day(records: pd.DataFrame, layout: Layout, shard: int, part: str,
                  timezone: str = "UTC") -> None:
    """Records on the model's wall clock, written as UTC instants in one file per (UTC) day."""
    records = records.assign(timestamp=utc_from_local_clock(records["timestamp"], timezone))
    records = records.sort_values(["user_id", "timestamp"], kind="stable")
    day = _utc_days(records["timestamp"])
    for d in np.unique(day):
        chunk = records[day == d].reset_index(drop=True)
        if layout.ext == "csv":
            chunk = chunk.assign(timestamp=chunk["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        layout.store.write_table(chunk, layout.records(str(d), shard, part), fmt=layout.ext)


_PER_RUN: dict[str, tuple[tuple, object]] = {}  # table name: (run key, table), the last run's in this process


def _once_per_run(name: str, spec: GenerationSpec, models: Models, layout: Layout, power: float,
                  build: Callable[[], object]) -> object:
    """``build()`` once per process and run, not once per shard: the tables built from every
    shard's files (reading every shard's file for each shard grew with the square of the shards)."""
    key = (layout.store.name(f"{layout.work}/{name}"), spec.seed, spec.n_users, spec.days, power,
           json.dumps(models.info, sort_keys=True, default=str))
    if _PER_RUN.get(name, (None,))[0] != key:
        _PER_RUN[name] = (key, build())
    return _PER_RUN[name][1]


def _day_factors(spec: GenerationSpec, models: Models, layout: Layout, power: float) -> np.ndarray:
    """``[n_users, days]`` partner-choice factors of every user (``zen.network.partners``), from
    every shard's sampled starts per day."""
    def build() -> np.ndarray:
        starts = [layout.store.read_parquet(layout.work_starts(other.index)).column("starts").to_numpy()
                  for other in shard_bounds(spec)]
        return day_factor(np.concatenate(starts).reshape(spec.n_users, int(np.ceil(spec.days))), power)
    return _once_per_run("starts", spec, models, layout, power, build)


def _pair_days(spec: GenerationSpec, models: Models, layout: Layout, power: float) -> PairDays:
    """Every user's started conversations per counterpart and day (``zen.network.partners.PairDays``),
    from every shard's sampled timelines."""
    def build() -> PairDays:
        tables = [layout.store.read_parquet(layout.work_pairs(other.index)) for other in shard_bounds(spec)]
        rows = {c: np.concatenate([t.column(c).to_numpy() for t in tables])
                for c in ("starter", "counterpart", "day")}
        return PairDays.count(rows["starter"], rows["counterpart"], rows["day"], spec.n_users,
                              int(np.ceil(spec.days)), power)
    return _once_per_run("pairs", spec, models, layout, power, build)


def _hour_factors(spec: GenerationSpec, models: Models, layout: Layout, power: float) -> np.ndarray:
    """``[n_users, bins]`` hour factors of every user (``zen.network.partners.hour_factor``), from
    every shard's sampled starts per hour-of-day bin."""
    def build() -> np.ndarray:
        hours = [layout.store.read_parquet(layout.work_hours(other.index)).column("hours").to_numpy()
                 for other in shard_bounds(spec)]
        return hour_factor(np.concatenate(hours).reshape(spec.n_users, len(HOUR_BINS) - 1), power)
    return _once_per_run("hours", spec, models, layout, power, build)


def partner_day_power(spec: GenerationSpec, models: Models) -> float:
    """β of the partner choice (``zen.network.partners``) this run uses; 0: the model's ties.

    ``pairing=starter`` with ``partners=auto`` uses the model's fitted ``partner_day_power``,
    with ``partners=pair`` its ``partner_pair_day_power`` (fitted with the pair factor), with
    ``partners=hour`` its ``partner_hour_day_power`` (fitted with the hour factor).
    """
    if spec.pairing != "starter" or spec.partners not in ("auto", "pair", "hour"):
        return 0.0
    name = {"auto": "partner_day_power", "pair": "partner_pair_day_power",
            "hour": "partner_hour_day_power"}[spec.partners]
    return float(getattr(models.social, name, 0.0))


def partner_pair_power(spec: GenerationSpec, models: Models) -> float:
    """γ of the pair-level partner choice this run uses (``partners=pair``); 0: none."""
    if spec.pairing != "starter" or spec.partners != "pair":
        return 0.0
    return float(getattr(models.social, "partner_pair_power", 0.0))


def partner_hour_power(spec: GenerationSpec, models: Models) -> float:
    """η of the hour-level partner choice this run uses (``partners=hour``); 0: none."""
    if spec.pairing != "starter" or spec.partners != "hour":
        return 0.0
    return float(getattr(models.social, "partner_hour_power", 0.0))


def startback_law(spec: GenerationSpec, models: Models) -> dict | None:
    """The start-back law this run uses (``zen.network.startbacks``, ``social.json``
    ``startbacks``): with ``pairing=starter`` and ``startbacks=auto`` when the model has one;
    None: no start-backs."""
    law = getattr(models.social, "startbacks", None)
    if spec.pairing != "starter" or spec.startbacks != "auto" or not law or law.get("share", 0.0) <= 0:
        return None
    return law


def starter_law(spec: GenerationSpec, models: Models) -> dict | None:
    """The split law this run hands conversations over by (``zen.network.starters``,
    ``social.json`` ``starter_split``): with ``pairing=starter`` and ``starters=auto`` when the
    model has one; None: no hand-over."""
    law = getattr(models.social, "starter_split", None)
    if spec.pairing != "starter" or spec.starters != "auto" or not law:
        return None
    return law


def turn_law(spec: GenerationSpec, models: Models) -> dict | None:
    """The chain of turns this run draws the inside of conversations from (``zen.traffic.turns``,
    ``social.json`` ``turns``): with ``turns=pauses`` or ``chain`` when the model has one; None:
    the traffic model's own turns."""
    law = getattr(models.social, "turns", None)
    return law if spec.turns != "none" and law else None


def needs_choice_pass(spec: GenerationSpec, models: Models) -> bool:
    """Whether the run draws every shard's final counterparts between the passes
    (:func:`choose_shard`): for the start-backs and the hand-over."""
    return bool(startback_law(spec, models) or starter_law(spec, models))


def _starter_plan(spec: GenerationSpec, models: Models, layout: Layout, law: dict) -> StarterPlan:
    """Every user's kept conversations per counterpart (``zen.network.starters.StarterPlan``), from
    every shard's :func:`choose_shard`, with the law."""
    def build() -> StarterPlan:
        tables = [layout.store.read_parquet(layout.work_started(other.index)) for other in shard_bounds(spec)]
        rows = {c: np.concatenate([t.column(c).to_numpy() for t in tables])
                for c in ("starter", "counterpart", "count")}
        return StarterPlan.of(rows["starter"], rows["counterpart"], rows["count"], spec.n_users, law)
    return _once_per_run("started", spec, models, layout, 0.0, build)


def _startback_plan(spec: GenerationSpec, models: Models, layout: Layout, law: dict) -> StartbackPlan:
    """Every user's kept conversations with lower-index ties (``zen.network.startbacks.Spans``),
    from every shard's :func:`choose_shard`, with the law and the window."""
    def build() -> StartbackPlan:
        tables = [layout.store.read_parquet(layout.work_spans(other.index)) for other in shard_bounds(spec)]
        rows = {c: np.concatenate([t.column(c).to_numpy() for t in tables])
                for c in ("starter", "counterpart", "start", "end")}
        spans = Spans.of(rows["starter"], rows["counterpart"], rows["start"], rows["end"], spec.n_users)
        return StartbackPlan(spans, law, spec.days * DAY_S)
    return _once_per_run("spans", spec, models, layout, 0.0, build)


def partner_choice(spec: GenerationSpec, models: Models) -> bool:
    """Whether this run draws the tie of started conversations again (``zen.network.partners``)."""
    return bool(partner_day_power(spec, models) or partner_pair_power(spec, models)
                or partner_hour_power(spec, models))


def _save_timelines(store: Store, key: str, tl: Timelines) -> None:
    store.write_parquet(pa.table({f.name: getattr(tl, f.name) for f in fields(Timelines)}), key)


def _load_timelines(store: Store, key: str) -> Timelines:
    table = store.read_parquet(key)
    return Timelines(**{f.name: table.column(f.name).to_numpy(zero_copy_only=False)
                        for f in fields(Timelines)})


def _mobility(spec: GenerationSpec, models: Models):
    """The mobility parameters of the run (``coupling=none``: without the activity-aware serving)."""
    return models.mobility if spec.coupling != "none" else models.mobility.without_activity()


def sample_shard(spec: GenerationSpec, shard: Shard, models: Models, pop: Population,
                 places: pd.DataFrame, layout: Layout) -> ShardResult:
    """First pass for one shard: sample its traffic and stays and keep them under ``.work`` (with
    the conversations each user starts per day, when the partner choice needs them).

    ``spec`` must be resolved for the model (:meth:`GenerationSpec.for_model`).
    """
    from zen.mobility import MobilityEmulator
    from zen.mobility.population import shard_stays

    s, a, b, start = shard.index, shard.first, shard.end, spec.start
    device, timings = resolve_device(spec.device), {}
    t = time.perf_counter()
    tl = models.traffic.sample(b - a, spec.days, start, component_seed(spec.seed, "traffic", s),
                               device=device, activity=pop.activity[a:b])
    timings["traffic"] = time.perf_counter() - t
    t = time.perf_counter()
    stays = shard_stays(MobilityEmulator(_mobility(spec, models)), places, pop.home, pop.work, a, b, s,
                        spec.days, start, spec.seed, device=device, activity=pop.activity)
    timings["mobility"] = time.perf_counter() - t
    if models.coupling is not None and spec.coupling != "none":  # traffic <-> mobility (zen.coupling)
        from zen.coupling.hook import couple_timelines

        t = time.perf_counter()
        tl = couple_timelines(tl, stays, places, pop.home[a:b], pop.work[a:b], pop.activity[a:b],
                              models.coupling, start, spec.days,
                              np.random.default_rng(component_seed(spec.seed, "coupling", s)))
        timings["coupling"] = time.perf_counter() - t
    if (law := turn_law(spec, models)) is not None:  # the conversations' turns (zen.traffic.turns)
        t = time.perf_counter()
        rng = np.random.default_rng(component_seed(spec.seed, "turns", s))
        tl = with_turns(tl, law, spec.days * DAY_S, rng, spec.conversation_gap_s, spec.turns)
        timings["turns"] = time.perf_counter() - t
    t = time.perf_counter()
    if partner_choice(spec, models):  # the assembly's own stream, so the same counterparts
        rng = np.random.default_rng(component_seed(spec.seed, "assembly", s))
        user, counterpart, t_s = started_conversations(tl, a, pop, rng, spec.conversation_gap_s)
        starts = day_activity(user, t_s, b - a, int(np.ceil(spec.days)))
        layout.store.write_parquet(pa.table({"starts": starts.ravel()}), layout.work_starts(s))
        if partner_pair_power(spec, models):
            layout.store.write_parquet(pa.table({"starter": user + a, "counterpart": counterpart,
                                                 "day": np.floor(t_s / DAY_S).astype(np.int64)}),
                                       layout.work_pairs(s))
        if partner_hour_power(spec, models):
            layout.store.write_parquet(pa.table({"hours": hour_activity(user, t_s, b - a).ravel()}),
                                       layout.work_hours(s))
    timings["assembly"] = time.perf_counter() - t
    t = time.perf_counter()
    _save_timelines(layout.store, layout.work_timelines(s), tl)
    layout.store.write_parquet(stays.to_table(), layout.work_stays(s))
    layout.mark("sampled", s)
    timings["write"] = time.perf_counter() - t
    return ShardResult(s, 0, timings)


def _assembly_streams(spec: GenerationSpec, models: Models, layout: Layout, pop: Population, shard: int
                      ) -> tuple[np.random.Generator, np.random.Generator | None, Population]:
    """The assembly's random stream of a shard, the partner choice's (None without it) and the
    population with the partner choice's factors from every shard's first pass."""
    rng = np.random.default_rng(component_seed(spec.seed, "assembly", shard))
    if not partner_choice(spec, models):
        return rng, None, pop
    power, pair_power = partner_day_power(spec, models), partner_pair_power(spec, models)
    hour_power = partner_hour_power(spec, models)
    pop = replace(pop, day_factor=_day_factors(spec, models, layout, power),
                  pairs=_pair_days(spec, models, layout, pair_power) if pair_power else None,
                  hour_factor=_hour_factors(spec, models, layout, hour_power) if hour_power else None)
    return rng, np.random.default_rng(component_seed(spec.seed, "partners", shard)), pop


def choose_shard(spec: GenerationSpec, shard: Shard, models: Models, pop: Population,
                 places: pd.DataFrame, layout: Layout) -> ShardResult:
    """Between the first two passes, with start-backs (``zen.network.startbacks``) or the hand-over
    (``zen.network.starters``): the shard's final counterparts (the partner choice, drawn as the
    second pass would), its users' kept conversations with lower-index ties, which the second
    pass moves others' conversations next to, and their kept conversations per counterpart;
    under ``.work``.

    ``spec`` must be resolved for the model (:meth:`GenerationSpec.for_model`); every shard's
    :func:`sample_shard` must be done.
    """
    s, a, t = shard.index, shard.first, time.perf_counter()
    tl = _load_timelines(layout.store, layout.work_timelines(s))
    rng, partner_rng, pop = _assembly_streams(spec, models, layout, pop, s)
    gap = spec.conversation_gap_s
    counterpart, keep = shard_counterparts(tl, a, pop, rng, spec.pairing, gap, partner_rng)
    _, first, end = kept_conversations(tl, a, counterpart, keep, pop.n_users, gap)
    starter, partner = tl.user[first] + a, counterpart[first]
    if startback_law(spec, models):
        final = partner < starter  # never moved: the second pass moves those to higher-index ties
        layout.store.write_parquet(pa.table({"starter": starter[final], "counterpart": partner[final],
                                             "start": tl.t_s[first][final], "end": end[final]}),
                                   layout.work_spans(s))
    if starter_law(spec, models):
        n = spec.n_users
        pairs, count = np.unique(starter.astype(np.int64) * n + partner, return_counts=True)
        table = pa.table({"starter": pairs // n, "counterpart": pairs % n, "count": count})
        layout.store.write_parquet(table, layout.work_started(s))
    layout.store.write_parquet(pa.table({"counterpart": counterpart}), layout.work_counterparts(s))
    layout.mark("chosen", s)
    return ShardResult(s, 0, {"assembly": time.perf_counter() - t})


def generate_shard(spec: GenerationSpec, shard: Shard, models: Models, pop: Population,
                   places: pd.DataFrame, layout: Layout) -> ShardResult:
    """Second pass for one shard: write its users' own records, its stays and others' pending records.

    ``spec`` must be resolved for the model (:meth:`GenerationSpec.for_model`); every shard's
    :func:`sample_shard` must be done.
    """
    from zen.mobility import Stays

    s, a, start = shard.index, shard.first, spec.start
    place_cell, timings = places["cell_id"].to_numpy(), {}
    t = time.perf_counter()
    store, key = layout.store, layout.work_stays(s)
    tl = _load_timelines(store, layout.work_timelines(s))
    stays = Stays.from_table(store.read_parquet(key), store.name(key))
    from zen.mobility.population import shard_seed
    from zen.mobility.serving import ServingProcess

    stays.serving = ServingProcess.for_params(places, _mobility(spec, models),  # as the emulator set it
                                              shard_seed(spec.seed, s))
    startback_rng, starter_rng, chosen = None, None, None
    if needs_choice_pass(spec, models):  # the partner choice is drawn: its factors are not needed
        rng, partner_rng = np.random.default_rng(component_seed(spec.seed, "assembly", s)), None
        chosen = store.read_parquet(layout.work_counterparts(s)).column("counterpart").to_numpy()
    else:
        rng, partner_rng, pop = _assembly_streams(spec, models, layout, pop, s)
    if law := startback_law(spec, models):
        pop = replace(pop, startbacks=_startback_plan(spec, models, layout, law))
        startback_rng = np.random.default_rng(component_seed(spec.seed, "startbacks", s))
    if law := starter_law(spec, models):
        pop = replace(pop, starters=_starter_plan(spec, models, layout, law))
        starter_rng = np.random.default_rng(component_seed(spec.seed, "starters", s))
    own = assemble_shard(tl, a, pop, start, stays, place_cell, rng, spec.pairing, spec.conversation_gap_s,
                         models.sessions, partner_rng, startback_rng, chosen, starter_rng)
    mirrors = mirror_on_network(own, pop.n_users)
    target = shard_of(spec, mirrors["user_id"].to_numpy())
    local = target == s
    mine = mirrors[local]
    mine_cells = place_cell[stays.locate(mine["user_id"].to_numpy() - a, _seconds(mine, start))]
    own = pd.concat([own, mine.assign(cell_id=mine_cells)], ignore_index=True)
    timings["assembly"] = time.perf_counter() - t
    t = time.perf_counter()
    for to in np.unique(target[~local]):
        store.write_table(mirrors[target == to], layout.pending(int(to), s))
    if spec.write_stays:
        store.write_table(_stays_frame(stays, np.arange(a, shard.end), spec), layout.stays(s))
    _write_by_day(own, layout, s, "own", spec.timezone)
    layout.mark("own", s)  # last: the shard's files are complete
    store.delete([layout.work_timelines(s), layout.work_counterparts(s)])
    timings["write"] = time.perf_counter() - t
    return ShardResult(s, len(own), timings)


def resolve_mirrors(spec: GenerationSpec, shard: Shard, place_cell: np.ndarray,
                    layout: Layout) -> ShardResult:
    """Third pass for one shard: give its pending mirror records their user's cell and write them."""
    from zen.mobility import Stays

    t, store = time.perf_counter(), layout.store
    folder = layout.pending(shard.index, 0).rsplit("/", 1)[0]
    files = store.glob(f"{folder}/from-*.parquet")
    n = 0
    if files:
        pending = pd.concat([store.read_table(f) for f in files], ignore_index=True)
        pending = validate(pending, "records", store.name(folder))
        key = layout.work_stays(shard.index)
        stays = Stays.from_table(store.read_parquet(key), store.name(key))
        place = stays.locate(pending["user_id"].to_numpy() - shard.first, _seconds(pending, spec.start))
        pending["cell_id"] = place_cell[place]
        _write_by_day(pending, layout, shard.index, "mirror", spec.timezone)
        n = len(pending)
    layout.mark("mirror", shard.index)
    return ShardResult(shard.index, n, {"assembly": time.perf_counter() - t})


def _record_counts(store: Store, record_files: list[str]) -> tuple[int, dict[str, int]]:
    counts: dict[str, int] = {}
    n_records = 0
    for f in record_files:
        r = store.read_table(f, columns=["event", "direction"])
        n_records += len(r)
        for (e, d), n in r.groupby(["event", "direction"], observed=True).size().items():
            counts[f"{e}_{d}"] = counts.get(f"{e}_{d}", 0) + int(n)
    return n_records, counts


def finish(spec: GenerationSpec, layout: Layout, antennas: pd.DataFrame, places: pd.DataFrame,
           users: pd.DataFrame, edges: pd.DataFrame, settings: dict, model_dir: Path,
           timings: dict[str, float]) -> dict[str, float]:
    """Write the population tables, count rows, export, and write the manifest last.

    Args:
        settings: the run's settings as the manifest records them (``config``).
        timings: seconds by part so far (recorded in the manifest).

    Returns:
        ``users``, ``records``, ``records_per_user_day`` and ``records/<event>_<direction>``.
    """
    store = layout.store
    store.write_table(antennas, "antennas.parquet")
    store.write_table(users, "users.parquet")
    store.write_table(edges.astype({"src": np.int64, "dst": np.int64}), "edges.parquet")  # int32 in memory
    if spec.write_stays:  # the table that stays/*.parquet's place_id refers to
        store.write_table(published_places(places), "places.parquet")
    record_files = [k for k in store.files("records") if k.endswith(f".{layout.ext}")]
    n_records, counts = _record_counts(store, record_files)
    if spec.format == "bandicoot":
        write_bandicoot(store, record_files, antennas, "bandicoot")
    rows = {"records": n_records, "antennas": len(antennas), "users": len(users), "edges": len(edges),
            **({"places": len(places)} if spec.write_stays else {}),
            **{f"records_{k}": v for k, v in sorted(counts.items())}}
    write_manifest(store, {
        "zen_version": __version__, "schema_version": SCHEMA_VERSION, "config": settings,
        "seed": spec.seed, "model_dir": str(Path(model_dir).resolve()),
        "start": str(utc_start(spec.start, spec.timezone)), "timezone": spec.timezone,
        "days": spec.days, "n_users": spec.n_users, "n_shards": len(shard_bounds(spec)),
        "format": spec.format, "rows": rows,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},  # before the final write
    })
    store.remove_tree(layout.work)
    summary = {"users": spec.n_users, "records": n_records,
               "records_per_user_day": n_records / spec.n_users / spec.days}
    summary.update({f"records/{k}": v for k, v in counts.items()})
    return summary


def generate_stays(spec: GenerationSpec, shard: Shard, models: Models, home: np.ndarray, work: np.ndarray,
                   places: pd.DataFrame, layout: Layout) -> ShardResult:
    """``mode=mobility``: write one shard's stays table (``stays/``); the same as the library's
    :func:`zen.mobility.iter_stay_frames` and as the stays of ``mode=full`` for the same seed."""
    from zen.mobility import MobilityEmulator
    from zen.mobility.population import shard_stays

    path = layout.stays(shard.index)
    if layout.is_done("stays", shard.index):
        return ShardResult(shard.index, len(layout.store.read_table(path, columns=["user_id"])))
    t = time.perf_counter()
    stays = shard_stays(MobilityEmulator(models.mobility), places, home, work, shard.first, shard.end,
                        shard.index, spec.days, spec.start, spec.seed, device=resolve_device(spec.device))
    took = time.perf_counter() - t
    t = time.perf_counter()
    layout.store.write_table(_stays_frame(stays, np.arange(shard.first, shard.end), spec), path)
    layout.mark("stays", shard.index)
    return ShardResult(shard.index, len(stays.user), {"mobility": took, "write": time.perf_counter() - t})


def finish_stays(spec: GenerationSpec, layout: Layout, antennas: pd.DataFrame, places: pd.DataFrame,
                 settings: dict, n_stays: int) -> None:
    """``mode=mobility``: the antennas and places tables, then the manifest."""
    layout.store.write_table(antennas, "antennas.parquet")
    layout.store.write_table(published_places(places), "places.parquet")
    write_manifest(layout.store, {
        "zen_version": __version__, "schema_version": SCHEMA_VERSION, "mode": "mobility",
        "config": settings, "seed": spec.seed, "start": str(utc_start(spec.start, spec.timezone)),
        "timezone": spec.timezone, "days": spec.days,
        "n_users": spec.n_users, "rows": {"stays": n_stays, "antennas": len(antennas), "places": len(places)},
    })
    layout.store.remove_tree(layout.work)
