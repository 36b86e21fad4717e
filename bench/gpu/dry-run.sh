#!/bin/bash
# CPU dry run of bench/gpu/run.sh (bench/gpu/README.md): a pack of 25 s clips
# cut into parts of PART_MIB (default 30 MiB, so that staging over several calls
# is exercised), then run.sh once per part as the device calls would run it,
# with DEVICE=cpu. Results in $OUT (default /tmp/cwg-dry/out).
# CW_ONLY=1: cwhisper's part only (build, CUDA op tests, parity, timings; no
# wheels packed, no peers run): a few minutes on a 2-core machine.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
D=${DRY:-/tmp/cwg-dry}
export OUT=${OUT:-$D/out} DEVICE=cpu CWG_STAGE=$D/stage CWG_WORK=$D/work
export PYTHON=${PYTHON:-$ROOT/bench/.venv/bin/python}
rm -rf "$D/pack" "$D/stage" "$OUT"
mkdir -p "$OUT"
export CW_ONLY=${CW_ONLY:-0}
nw=""; [ "$CW_ONLY" = 1 ] && nw=--no-wheels
bench/gpu/pack $nw --models "${MODELS_PACK:-tiny.en}" --long --clip "${CLIP:-25}" --part-mib "${PART_MIB:-30}" \
  --out "$D/pack"
for p in "$D"/pack/part*; do
  # one simulated device call: only this part is carried
  rm -rf "$D/carry" && mkdir -p "$D/carry" && cp -r "$p" "$D/carry/"
  CWG_PACK="$D/carry" bash bench/gpu/run.sh
done
