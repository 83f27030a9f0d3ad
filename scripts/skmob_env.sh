#!/usr/bin/env bash
# Build a separate virtual environment with scikit-mobility for scripts/bench_mobility.py.
# scikit-mobility pins old stacks (numpy<2, shapely<2) and builds python-igraph from source, which takes
# several minutes: it is a benchmark environment only, never a Zen dependency and never run in CI.
# Usage: bash scripts/skmob_env.sh [VENV_DIR]   (default /work/venvs/skmob)
set -euo pipefail
VENV="${1:-/work/venvs/skmob}"
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip wheel setuptools
"$VENV/bin/pip" install "numpy<2" "shapely<2" "pandas<2" "scikit-mobility==1.3.1"
"$VENV/bin/python" -c "import skmob, numpy; from skmob.models.epr import DensityEPR; print('skmob', skmob.__version__, 'numpy', numpy.__version__)"
