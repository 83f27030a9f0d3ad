"""Shared fixtures. Tests that need ../shared/data fail loudly under CI=true when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ZEN_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_data(*parts: str) -> Path:
    """Path under the shared data folder; fails under CI=true, skips elsewhere, when missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"real data not found at {path} (set ZEN_SHARED_DATA or put ../shared beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def copenhagen_dir() -> Path:
    return require_data("copenhagen")


@pytest.fixture(scope="session")
def copenhagen(copenhagen_dir):
    from zen.data import load_copenhagen

    return load_copenhagen(copenhagen_dir)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_data()
