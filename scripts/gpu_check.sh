#!/usr/bin/env bash
# GPU readiness in one command (issue 20): on a machine with CUDA, in about 4 minutes, the
# gpu-marked tests, a short LSTM fit, then 1M users x 7 days end to end on the GPU, with the GPU
# named, written to experiments/gpu.md. Without CUDA it refuses in one line (exit 2).
#
#   bash scripts/gpu_check.sh              # on the GPU machine, after pip install -e ".[dev,ray]"
#   bash scripts/gpu_check.sh --dry-run    # the same steps on the CPU, small; report in /tmp
#   PYTHON=/path/to/venv/bin/python bash scripts/gpu_check.sh --users 200000
# The real data is read from ../shared/data beside the clone, or from ZEN_DATA=<folder>.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" scripts/gpu_check.py "$@"
