#!/bin/bash
# Before and after, back to back: bench/throughput.py on an older commit's src/ (through
# PYTHONPATH, the children inherit it), then on this tree. Each run measures its own ceiling.
#   bench/before_after.sh b1698da --database both --modes drain --no-celery --messages 4000
set -euo pipefail
ref=$1; shift
here=$(cd "$(dirname "$0")/.." && pwd)
old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
git -C "$here" archive "$ref" src | tar -x -C "$old"
for side in before after; do
  echo "== $side ($([ $side = before ] && echo "$ref" || echo "this tree"))"
  if [ $side = before ]; then export PYTHONPATH="$old/src"; else unset PYTHONPATH; fi
  "$here/.venv/bin/python" "$here/bench/throughput.py" --chart "$old/chart-$side.png" \
    --json "$old/$side.json" "$@" | grep '^| ' | grep -v -e '^|---' -e '^| configuration'
done
