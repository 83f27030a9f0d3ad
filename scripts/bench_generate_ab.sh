#!/usr/bin/env bash
# Paired A/B of zen-generate end to end, whole processes: this checkout ("new") against an older
# checkout ("old", e.g. `git archive <commit> | tar -x -C DIR`), run alternately (old new old new ...)
# so both see the same machine load. Prints wall seconds, peak RSS (/usr/bin/time, the largest process),
# a digest of the records, users and edges files (same digest = byte-identical dataset) and the load.
# PYTHON= the interpreter (default: python); ZEN_DATA= the data root (default: ../shared/data);
# OLD_MODEL= the model folder for "old" (default: MODEL_DIR; e.g. a copy without newer fields).
#
#   scripts/bench_generate_ab.sh MODEL_DIR OLD_DIR [USERS=100000] [DAYS=7] [REPEATS=3] [WORKERS=1]
set -euo pipefail
py=${PYTHON:-python}; model=$1; old=$2; users=${3:-100000}; days=${4:-7}; repeats=${5:-3}; workers=${6:-1}
new=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ZEN_DATA=${ZEN_DATA:-$new/../shared/data} OMP_NUM_THREADS=1
echo "| run | code | users | days | workers | wall s | peak RSS MiB | records | data digest | load (1 min) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for i in $(seq "$repeats"); do
  for name in old new; do
    code=$old; use=${OLD_MODEL:-$model}; [ "$name" = new ] && code=$new && use=$model
    out=$tmp/$name-$i
    load=$(cut -d' ' -f1 /proc/loadavg)
    (cd "$tmp" && PYTHONPATH=$code /usr/bin/time -f "%e %M" -o "$tmp/time" "$py" -m zen.cli.generate \
      model_dir="$use" n_users="$users" days="$days" out_dir="$out" workers="$workers" progress=false \
      device=cpu hydra.run.dir="$tmp/hydra-$name-$i" > "$tmp/log" 2>&1) || { tail -20 "$tmp/log"; exit 1; }
    read -r wall rss < "$tmp/time"
    records=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['rows']['records'])" "$out/manifest.json")
    digest=$(cd "$out" && find records users.parquet edges.parquet -type f | sort | xargs cat | sha256sum | cut -c1-12)
    echo "| $i | $name | $users | $days | $workers | $wall | $((rss / 1024)) | $records | $digest | $load |"
    rm -rf "$out"
  done
done
