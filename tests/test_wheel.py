"""A wheel built from the repository, installed into a fresh venv, runs from ``/tmp`` as a new user's would.

The venv is new and holds nothing but the wheel; its third-party dependencies (torch, pandas, ...)
are borrowed from the test's own interpreter through a ``.pth`` line, so the check takes seconds
instead of a torch download. Zen itself is imported from the wheel (asserted), never from the
clone: the configs must be in the wheel and the data must come from ``ZEN_DATA``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"  # a copy: building in the clone would leave build/ and *.egg-info there
    shutil.copytree(REPO / "zen", src / "zen", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(src)]
    # this interpreter's setuptools when it can build wheels (>= 70.1, or with `wheel`), else pip's
    # isolated build (it fetches setuptools>=68 from the index, as `pip install` does)
    if subprocess.run(build + ["--no-build-isolation"], capture_output=True, timeout=300).returncode != 0:
        subprocess.run(build, check=True, capture_output=True, timeout=600)
    wheel = next((root / "dist").glob("zen_cdr-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([venv / "bin" / "python", "-c", purelib], check=True, capture_output=True,
                               text=True).stdout.strip())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "_zen_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=300)
    work = Path(tmp_path_factory.mktemp("elsewhere"))  # under /tmp, far from the clone
    (work / "notes.txt").write_text("a user's folder\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ZEN_DATA", "ZEN_SHARED_DATA")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return venv, work, env, wheel


def _run(env, work, *args, timeout=600):
    return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_carries_the_configs(wheel_env):
    import zipfile

    names = zipfile.ZipFile(wheel_env[3]).namelist()
    assert "zen/configs/train.yaml" in names and "zen/configs/data/copenhagen.yaml" in names
    assert "zen/configs/model/lstm_small.yaml" in names


def test_installed_wheel_trains_generates_and_evaluates_from_tmp(wheel_env, shared_data):
    venv, work, env, _ = wheel_env
    where = _run(env, work, "python", "-c", "import zen; print(zen.__file__)")
    assert where.returncode == 0 and where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    helped = _run(env, work, "zen-train", "--help")
    assert helped.returncode == 0 and "zen-train" in helped.stdout, helped.stderr

    unset = _run(env, work, "zen-train", "model=baseline", "device=cpu", f"hydra.run.dir={work / 'nodata'}")
    lines = [ln for ln in unset.stderr.splitlines() if ln.strip()]
    assert unset.returncode == 2 and len(lines) == 1 and "ZEN_DATA" in lines[0], unset.stderr

    env = {**env, "ZEN_DATA": str(shared_data)}
    run = work / "run"
    trained = _run(env, work, "zen-train", "model=baseline", "device=cpu", f"hydra.run.dir={run}")
    assert trained.returncode == 0, trained.stderr[-3000:]
    made = _run(env, work, "zen-generate", f"model_dir={run / 'model'}", "n_users=60", "days=2",
                "network=synthetic_city", "device=cpu", "progress=false", f"hydra.run.dir={work / 'g'}")
    assert made.returncode == 0, made.stderr[-3000:]
    scored = _run(env, work, "zen-evaluate", f"synthetic={run / 'dataset'}", "tasks.usefulness=false",
                  "tasks.privacy=false", f"hydra.run.dir={work / 'e'}")
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert (run / "report" / "metrics.json").exists()
