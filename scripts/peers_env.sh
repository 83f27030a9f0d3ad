#!/usr/bin/env bash
# Creates the environment for the peer generators (issue 9): gretel-synthetics' DGAN and SDV's
# PARSynthesizer, with pinned versions from the package index. Never inside the repo.
#
#   bash scripts/peers_env.sh                 # -> /work/venvs/peers
#   bash scripts/peers_env.sh /path/to/venv   # anywhere else
#
# Then, with the project's Python: nice -n 10 python scripts/run_peers.py
#
# torch goes in first so that nothing else picks another build. gretel-synthetics is installed
# with --no-deps: its full dependency list pulls sentencepiece, whose build downloads code; the
# DGAN module (gretel_synthetics.timeseries_dgan) imports torch, numpy, pandas, scipy and
# category_encoders.
set -euo pipefail

VENV="${1:-/work/venvs/peers}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
case "$(realpath -m "$VENV")" in
  "$REPO"|"$REPO"/*) echo "peers_env.sh: put the environment outside the repo, not $VENV" >&2; exit 2;;
esac

TORCH=2.13.0
GRETEL=0.22.20
SDV=2.0.0
CATEGORY_ENCODERS=2.11.2  # DGAN's transformations import it

python3.11 -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install --quiet "torch==$TORCH"
$PIP install --quiet --no-deps "gretel-synthetics==$GRETEL"
# SDV and DGAN's dependencies resolved together (SDV caps pandas), plus what the peer worker of
# scripts/run_peers.py reads and writes with (pyarrow).
$PIP install --quiet "torch==$TORCH" "sdv==$SDV" "category_encoders==$CATEGORY_ENCODERS" scipy pyarrow
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
for name in ("torch", "gretel-synthetics", "sdv", "rdt", "deepecho", "category_encoders", "numpy",
             "pandas", "scipy"):
    print(f"{name}=={md.version(name)}")
from gretel_synthetics.timeseries_dgan.dgan import DGAN  # noqa: F401
from sdv.sequential import PARSynthesizer  # noqa: F401
print("peers environment ready:", __import__("sys").prefix)
PY
