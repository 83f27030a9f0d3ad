"""``zen-data check``: read a data config through its mapping and print what a model would see.

Nothing is fitted. Exit 2 with one line when the data would make training meaningless (too few
users, no holdout, an expected event kind missing, no counterparts for the social graph, ...).
"""

from __future__ import annotations

from omegaconf import DictConfig

from zen.data.check import MIN_TRAIN_USERS, problems, summarize, summary_lines, warnings
from zen.schema import ZenInputError
from zen.stages.common import load_real


def check(cfg: DictConfig) -> dict:
    """Load ``cfg.data``, print its summary; raise ZenInputError naming every problem found."""
    data, split = load_real(cfg.data)
    summary = summarize(data, split)
    print(f"zen-data check: {cfg.data.get('name', 'data')} ({cfg.data.loader.get('path')})")
    for line in summary_lines(summary):
        print(f"  {line}")
    for line in warnings(summary):
        print(f"  warning: {line}")
    expect = list(cfg.expect_events) if cfg.get("expect_events") else None
    found = problems(summary, int(cfg.get("min_train_users") or MIN_TRAIN_USERS), expect,
                     bool(cfg.data.get("social_from")))
    if found:
        raise ZenInputError("the data would not train a meaningful model: " + "; ".join(found),
                            str(cfg.data.loader.get("path")))
    print("  ok: zen-train can learn from this data")
    return summary
