"""The bandicoot export is read by bandicoot itself and gives finite indicators."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import pytest


def _patch_inspect_for_bandicoot() -> None:
    """bandicoot 0.6.0 calls inspect.getargspec/formatargspec, removed in Python 3.11."""
    if not hasattr(inspect, "getargspec"):
        inspect.getargspec = lambda f: tuple(inspect.getfullargspec(f)[:4])
    if not hasattr(inspect, "formatargspec"):
        def formatargspec(args, varargs=None, varkw=None, defaults=None,
                          formatvalue=lambda v: "=" + repr(v)):
            first = len(args) - len(defaults) if defaults else len(args)
            parts = [a + (formatvalue(defaults[i - first]) if defaults and i >= first else "")
                     for i, a in enumerate(args)]
            parts += [f"*{varargs}"] if varargs else []
            parts += [f"**{varkw}"] if varkw else []
            return "(" + ", ".join(parts) + ")"
        inspect.formatargspec = formatargspec


def _numbers(tree) -> list[float]:
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _numbers(v)]
    return [float(tree)] if isinstance(tree, int | float) and not isinstance(tree, bool) else []


def test_bandicoot_reads_the_export(tmp_path, baseline_model_dir, generate_cfg):
    _patch_inspect_for_bandicoot()
    bc = pytest.importorskip("bandicoot")
    from zen.stages.generate import generate

    out = tmp_path / "dataset"
    generate(generate_cfg(baseline_model_dir, out, n_users=40, days=7, format="bandicoot"))
    folder = out / "bandicoot"
    users = sorted(int(p.stem) for p in folder.glob("*.csv") if p.stem.isdigit())
    assert users and (folder / "antennas.csv").exists()
    for uid in users[:3]:
        user = bc.read_csv(str(uid), str(folder) + "/", str(folder / "antennas.csv"), describe=False,
                           warnings=False)
        assert len(user.records) == sum(1 for _ in open(folder / f"{uid}.csv")) - 1
        indicators = bc.utils.all(user, summary="default", split_week=False, split_day=False)
        values = _numbers(indicators)
        assert len(values) > 50
        assert any(math.isfinite(v) for v in values)
        assert indicators["number_of_contacts"]["call"] is not None
    assert Path(folder / "antennas.csv").read_text().startswith("antenna_id,latitude,longitude")
