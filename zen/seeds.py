"""The seed scheme of a generation run: one independent stream per (component, shard).

Every random draw of ``zen-generate`` and of the library (:mod:`zen.generation`,
:func:`zen.mobility.iter_stay_frames`) takes its seed from :func:`component_seed`, so the same
run seed gives the same population, stays and records whichever of them drives it, on every
machine and in any shard order.
"""

from __future__ import annotations

import numpy as np

COMPONENT = {"activity": 1, "anchors": 2, "graph": 3, "traffic": 4, "mobility": 5, "assembly": 6,
             "cells": 7, "coupling": 8, "partners": 9,
             "night": 10, "startbacks": 11, "starters": 12, "turns": 13}


def component_seed(seed: int, component: str, *keys: int) -> int:
    """An independent 63-bit seed for ``component`` (a key of :data:`COMPONENT`) and ``keys``
    (e.g. the shard index) of a run seeded ``seed``."""
    words = [int(seed), COMPONENT[component], *(int(k) for k in keys)]
    return int(np.random.SeedSequence(words).generate_state(2, np.uint64)[0] >> 1)
