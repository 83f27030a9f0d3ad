"""What a generation run makes: a typed, frozen :class:`GenerationSpec`, checked on creation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import pandas as pd

from zen.checks import config_number, config_seed
from zen.generation.early import auto_shard_users
from zen.measures.conversations import CONVERSATION_GAP_S
from zen.schema import ZenInputError

PAIRINGS = ("auto", "starter", "conversation", "half", "outgoing")
PARTNERS = ("auto", "tie", "pair", "hour")
MODES = ("full", "mobility")
FORMATS = ("parquet", "csv", "bandicoot")
COUPLINGS = ("auto", "none")
STARTBACKS = ("auto", "none")
TURNS = ("pauses", "chain", "none")
STARTERS = ("auto", "none")


def parse_start(start_date: object, days: float) -> pd.Timestamp:
    """``start_date`` (``YYYY-MM-DD`` or a timestamp) as UTC, checked to hold ``days`` more days."""
    try:
        start = pd.Timestamp(str(start_date), tz="UTC") if not isinstance(start_date, pd.Timestamp) \
            else (start_date.tz_convert("UTC") if start_date.tzinfo else start_date.tz_localize("UTC"))
    except ValueError as err:
        raise ZenInputError(f"start_date {start_date!r} is not a date (YYYY-MM-DD)") from err
    if start is pd.NaT or days > (pd.Timestamp.max.tz_localize("UTC") - start).total_seconds() / 86400:
        raise ZenInputError(f"start_date {start_date!r} + days={days:g} is not a time window pandas "
                            "can hold; give fewer days or an earlier start_date")
    return start


def _night_assortativity(value: object) -> str | float | None:
    """None, ``fit`` or a number in [0, 1] (``off``, ``none``, false and 0 read as None)."""
    if value is None or value is False or (isinstance(value, str)
                                           and value.lower() in ("off", "none", "null")):
        return None
    if isinstance(value, str) and value.lower() == "fit":
        return "fit"
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number <= 1.0:
        raise ZenInputError(f"night_assortativity={value!r}: use null, fit or a number in [0, 1]")
    return number or None


@dataclass(frozen=True)
class GenerationSpec:
    """One generation run, independent of how it is launched (CLI, Python, a pool, Ray).

    Attributes:
        n_users: population size; user ids are 0..n_users-1.
        days: length of the generated period (days, > 0).
        start: first instant of the period (UTC; a ``YYYY-MM-DD`` string is accepted).
        seed: run seed in [0, 2**63); every component and shard derives its own (``zen.seeds``).
        shard_users: users per shard (memory stays flat as ``n_users`` grows); ``auto``:
            :func:`auto_shard_users` of ``days`` (50,000 at 7 days). Part of the seed: another
            value gives another dataset.
        pairing: how both ends of on-network events are made (``auto``: the model's rule, see
            :meth:`for_model`).
        conversation_gap_s: a pause (s) that ends a conversation (None: the model's).
        partners: with ``pairing=starter``, ``auto`` draws the tie of each started conversation
            weighted by the tie's own activity that day, with the model's fitted strength
            (``zen.network.partners``; models fitted before it keep their ties); ``tie`` keeps
            the tie the traffic model chose; ``pair`` weighs each tie also by its own
            conversations with the starter that day (the pair-level rule, fitted strengths);
            ``hour`` weighs each tie also by its own share of started conversations at the
            conversation's hour of day (the hour-level rule, fitted strengths).
        startbacks: with ``pairing=starter``, ``auto`` moves the conversations users start with
            higher-index ties next to the ties' own conversations with them, in the share fitted
            on the training data (``social.json`` ``startbacks``, ``zen.network.startbacks``;
            models fitted before it have none); ``none`` does not (the records of the code
            before it, draw for draw).
        starters: with ``pairing=starter``, ``auto`` lets the side of a pair that started more of
            its conversations hand some of its two-way ones to the other, to the split fitted on
            the training data (``social.json`` ``starter_split``, ``zen.network.starters``;
            models fitted before it have none); ``none`` does not.
        turns: the inside of each sampled conversation with a tie, from the chain of turns fitted
            on the training data (``social.json`` ``turns``, ``zen.traffic.turns``; models fitted
            before it have none): ``pauses`` (the default) draws the pauses between its events
            from the fitted law and keeps the traffic model's turns; ``chain`` keeps only its first
            event and lets the chain decide who writes next, after how long, call or SMS, and
            when it stops; ``none`` keeps the traffic model's own (the records of the code before
            it). Measured in experiments/conversations.md.
        night_assortativity: tie users of like night activity in the social graph
            (``zen.network.social``): ``fit`` (the default) aims at the correlation of partners'
            own night shares fitted on the training data (``social.json`` ``night_assortativity``;
            models fitted before it, and models without per-user clocks such as the baseline,
            build the graph as before); a number in [0, 1] is the target correlation of the
            users' night tendencies across ties (it needs the LSTM's per-user clocks); None does
            not (the graph of the code before the option, draw for draw). Measured in
            experiments/conversations.md.
        ties_per_user: width of the contact table: ties per user that the traffic model's "k-th
            contact" can point at (the model's own ``max_rank`` is how many rank classes it
            learns; ranks at or beyond this width become new contacts). ``max_rank`` in old
            settings is read as this.
        offnet_pool_per_user: distinct off-network ids per user for new contacts.
        coupling: ``auto`` couples traffic to the generated moves when the model folder has a
            fitted dependency (``coupling.json``, :mod:`zen.coupling`), and the serving cells to the
            user's events when ``mobility.json`` has an activity-aware serving table
            (``serving_activity``, :mod:`zen.mobility.serving`); ``none``: independent.
        mode: ``full`` (records) or ``mobility`` (stays only).
        format: ``parquet``, ``csv`` or ``bandicoot`` (Parquet records plus the bandicoot export).
        write_stays: also write the stays and places tables.
        device: torch device of the samplers (``auto``: CUDA when present).
        timezone: the model's local zone (its ``model.json``): models run on that wall clock from
            ``start`` (a local midnight) and records are written as UTC instants (DST-safe).
    """

    n_users: int
    days: float
    start: pd.Timestamp = pd.Timestamp("2013-02-04", tz="UTC")
    seed: int = 0
    shard_users: int | str = "auto"
    pairing: str = "auto"
    conversation_gap_s: float | None = None
    partners: str = "auto"
    startbacks: str = "auto"
    starters: str = "auto"
    turns: str = "pauses"
    night_assortativity: str | float | None = "fit"
    ties_per_user: int = 32
    offnet_pool_per_user: float = 2.0
    coupling: str = "auto"
    mode: str = "full"
    format: str = "parquet"
    write_stays: bool = False
    device: str = "auto"
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        fields = asdict(self)
        fix = {"n_users": config_number(fields, "n_users", int, minimum=1),
               "days": config_number(fields, "days", float, above=0), "seed": config_seed(fields)}
        try:
            fix["shard_users"] = auto_shard_users(fix["days"]) if self.shard_users == "auto" \
                else config_number(fields, "shard_users", int, minimum=1)
        except ZenInputError as err:
            raise ZenInputError(f"{err} (or auto)") from None
        if self.pairing not in PAIRINGS:
            raise ZenInputError(f"unknown pairing {self.pairing!r}; use one of {', '.join(PAIRINGS)}")
        if self.partners not in PARTNERS:
            raise ZenInputError(f"unknown partners {self.partners!r}; use auto, tie, pair or hour")
        if self.startbacks not in STARTBACKS:
            raise ZenInputError(f"unknown startbacks {self.startbacks!r}; use auto or none")
        if self.starters not in STARTERS:
            raise ZenInputError(f"unknown starters {self.starters!r}; use auto or none")
        if self.turns not in TURNS:
            raise ZenInputError(f"unknown turns {self.turns!r}; use pauses, chain or none")
        fix["night_assortativity"] = _night_assortativity(self.night_assortativity)
        if self.conversation_gap_s is not None:
            fix["conversation_gap_s"] = config_number(fields, "conversation_gap_s", float, above=0)
        if self.mode not in MODES:
            raise ZenInputError(f"unknown mode {self.mode!r}; use full or mobility")
        if self.coupling not in COUPLINGS:
            raise ZenInputError(f"unknown coupling {self.coupling!r}; use auto or none")
        if self.format not in FORMATS:
            raise ZenInputError(f"unknown format {self.format!r}; use parquet, csv or bandicoot")
        fix["start"] = parse_start(self.start, fix["days"])
        fix["ties_per_user"] = config_number(fields, "ties_per_user", int, minimum=1)
        fix["offnet_pool_per_user"] = config_number(fields, "offnet_pool_per_user", float, above=0)
        fix["write_stays"], fix["device"] = bool(self.write_stays), str(self.device)
        for key, value in fix.items():
            object.__setattr__(self, key, value)

    @classmethod
    def from_settings(cls, settings: Mapping) -> GenerationSpec:
        """The spec of a ``generate.yaml``-shaped mapping (``start_date`` names the start)."""
        keys = [k for k in cls.__dataclass_fields__ if k != "start"]
        days = config_number(settings, "days", float, above=0) if "days" in settings else None
        if days is not None and "start_date" in settings:
            parse_start(settings["start_date"], days)  # its wording names start_date
        given = {k: settings[k] for k in keys if k in settings}
        if "max_rank" in settings and "ties_per_user" not in given:  # the old name
            given["ties_per_user"] = settings["max_rank"]
        return cls(start=settings.get("start_date", "2013-02-04"), **given)

    def for_model(self, model_info: Mapping) -> GenerationSpec:
        """This spec with the assembly rule and conversation gap the model was trained for.

        ``pairing=auto`` is ``starter`` for every model: keep the conversations each user starts
        (all of a starter-view model's; of a whole-timeline model's, those whose first event is
        the user's) and write them at both ends. On whole timelines it beat ``conversation``
        (keep each with p 1/2) on the inter-event, median-gap, night-share, turns and
        reciprocity rows of ``experiments/conversations.md``; it loses on the per-user share
        of conversations started.
        """
        pairing = "starter" if self.pairing == "auto" else self.pairing
        gap = self.conversation_gap_s if self.conversation_gap_s is not None \
            else model_info.get("conversation_gap_s", CONVERSATION_GAP_S)
        return replace(self, pairing=pairing, conversation_gap_s=float(gap),
                       timezone=str(model_info.get("timezone") or "UTC"))

    @property
    def ext(self) -> str:
        """Suffix of the record files."""
        return "csv" if self.format == "csv" else "parquet"

    def settings(self) -> dict:
        """JSON-friendly fields (``start`` as text)."""
        return {**asdict(self), "start": str(self.start)}
