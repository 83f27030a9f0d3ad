#!/usr/bin/env bash
# The fresh-machine check, run before every resolve: what CI does, on nothing but Python.
#
#   bash scripts/ci_fresh.sh            # clones HEAD (committed work only), ~5-10 min on 2 cores
#
# A new `python -m venv` (no system packages), a fresh clone of this repository's HEAD, a
# read-only copy of ../shared beside it (as CI lays it out), then `CI=true bash .ci/run` inside
# the venv. A package installed by hand on this machine is not there, so a test that imports
# something .ci/run does not install fails here as it would on CI. The scratch folder is removed
# on success and kept (its path printed) on failure. ZEN_SHARED=<dir> points at another shared/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${ZEN_SHARED:-$repo/../shared}
[ -d "$shared/data" ] || { echo "ci_fresh: no data folder in $shared (set ZEN_SHARED=<shared dir>)" >&2; exit 2; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/zen-ci-fresh.XXXXXX")
trap 'echo "ci_fresh: FAILED; the clone, venv and log are kept in $scratch" >&2' ERR
git clone --quiet "$repo" "$scratch/zen"
cp -r "$shared" "$scratch/shared" && chmod -R a-w "$scratch/shared"
python3 -m venv "$scratch/venv"
echo "ci_fresh: $(git -C "$scratch/zen" log -1 --format='%h %s' | cut -c1-80)"
start=$(date +%s)
(cd "$scratch/zen" && env -u PYTHONPATH -u VIRTUAL_ENV -u ZEN_SHARED_DATA -u ZEN_DATA PATH="$scratch/venv/bin:$PATH" CI=true \
    bash .ci/run) 2>&1 | tee "$scratch/ci.log"
echo "ci_fresh: passed in $(( $(date +%s) - start )) s (fresh venv, fresh clone, CI=true bash .ci/run)"
trap - ERR
chmod -R u+w "$scratch" && rm -rf "$scratch"
