#!/bin/bash
# bench/gpu/run.sh: the one script a lent GPU machine runs (bench/gpu/README.md).
#
# Every device call runs it the same way, carrying one part of .gpu-pack/
# (made here by bench/gpu/pack). It stages the carried part outside the tree
# (/tmp/cwg-stage, kept while the machine stays warm); once every part is
# staged it unpacks the weights, audio and wheels (sha256-checked), converts
# the CT2 models to HF (bench/convert/ct2_to_hf.py), tries cwhisper's CUDA back
# end, and runs the PyTorch and JAX peers of bench/peers through
# bench/gpu/peer.py, each configuration one process with --repeat 2, under one
# global deadline (BUDGET_S, default 450 s: the whole script stays under 8 min;
# every step has its own timeout so a hang costs only that step).
#
# Results in $OUT: log.txt, summary.md, gpu-raw.jsonl (one JSON per adapter
# invocation: the adapter's JSON + "harness"), step-logs.tar.gz (each step's stderr).
#
# Environment: OUT (default .gpu-out), DEVICE=cuda|cpu (cpu: the local dry run,
# batch 2 instead of 16), PYTHON (default python3), BUDGET_S, CWG_STAGE, CWG_WORK,
# PLAN=full|dry, MODELS (default: every model in the pack), CPU_KERNELS=0|1 (run
# bench/gpu/cpu_kernels.sh first, once per machine; default 1 on cuda).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
T0=$(date +%s)
OUT=${OUT:-$ROOT/.gpu-out}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
STAGE=${CWG_STAGE:-/tmp/cwg-stage}
WORK=${CWG_WORK:-/tmp/cwg-work}
PACK=${CWG_PACK:-$ROOT/.gpu-pack}
if [ "$DEVICE" = cuda ]; then PLAN=${PLAN:-full}; BIG=16; BUDGET_S=${BUDGET_S:-450}
else PLAN=${PLAN:-dry}; BIG=2; BUDGET_S=${BUDGET_S:-1500}; fi
NPROC=$(nproc)
THREADS=${THREADS:-$(( NPROC < 16 ? NPROC : 16 ))}
DEADLINE=$(( T0 + BUDGET_S ))
RESERVE=20   # seconds kept for the summary at the end
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
TEE_PID=$!
trap 'exec 1>&- 2>&-; wait $TEE_PID 2>/dev/null' EXIT   # log.txt complete before the call returns

say() { echo "[run.sh $(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( DEADLINE - $(date +%s) )); }

say "start $(date -u +%FT%TZ) on $(hostname), $NPROC CPUs, DEVICE=$DEVICE PLAN=$PLAN budget ${BUDGET_S}s"
GPU="none"
if command -v nvidia-smi >/dev/null 2>&1; then
  GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 | sed 's/^/  /'
fi
[ "$DEVICE" = cpu ] && GPU="none (cpu dry run)"
say "GPU: $GPU"
"$PY" -c 'import sys; print("  python", sys.version.split()[0], sys.executable)'
# for planning a CUDA build of cwhisper here: what the machine has
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null | head -1)
say "nvcc: ${NVCC:-none}${NVCC:+ ($("$NVCC" --version 2>/dev/null | grep -m1 -o 'release [0-9.]*'))}; cmake: $(command -v cmake || echo none); pkg-config libavformat: $(pkg-config --exists libavformat 2>/dev/null && echo "yes $(pkg-config --modversion libavformat)" || echo no); zlib.h: $(echo '#include <zlib.h>' | gcc -E -x c - >/dev/null 2>&1 && echo yes || echo no)"

# 0. once per machine (marker in /tmp, set before the try so a hang is not repeated):
#    the CPU back end's unit tests on this host CPU (AVX-512 / AMX, which the dev
#    machines may lack), built with plain gcc; results in $OUT/cpu-kernels.log
#    (CPU_KERNELS=1 by default on cuda, 0 for the CPU dry run)
CPU_MARK=${CPU_MARK:-/tmp/cwg-cpu-kernels.done}
CPU_KERNELS=${CPU_KERNELS:-$([ "$DEVICE" = cuda ] && echo 1 || echo 0)}
if [ "$CPU_KERNELS" = 1 ] && [ ! -e "$CPU_MARK" ]; then
  date -u +%FT%TZ > "$CPU_MARK"
  say "CPU kernel tests (bench/gpu/cpu_kernels.sh, limit 150 s)"
  OUT="$OUT" timeout -k 5 150 bash bench/gpu/cpu_kernels.sh 2>&1 | sed -u 's/^/  /'
  rc=${PIPESTATUS[0]}
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && say "CPU kernel tests: timed out (150 s)"
  say "CPU kernel tests: exit $rc"
elif [ "$CPU_KERNELS" = 1 ]; then
  say "CPU kernel tests: already run on this machine ($(cat "$CPU_MARK")); rm $CPU_MARK to repeat"
fi

# 1. stage the carried part; go on only when all parts are there
"$PY" bench/gpu/unpack.py stage "$PACK" "$STAGE"
rc=$?
if [ $rc -ne 0 ]; then
  { echo "# bench/gpu/run.sh: staged only"; echo; grep '^stage:' "$OUT/log.txt" | tail -3
    grep -E 'cpu_kernels: (PASS|FAIL|SKIP)|cpu_kernels \[.*\] (CPU|flags|compiler|done)' "$OUT/log.txt" | sed 's/^ *//'
  } > "$OUT/summary.md"
  say "not all parts staged yet: run again with the next part carried (nothing benchmarked)"
  exit 0
fi

# 2. unpack into WORK (fresh), install the carried wheels into separate targets
rm -rf "$WORK"
timeout -k 5 120 "$PY" bench/gpu/unpack.py unpack "$STAGE" "$WORK" || { say "unpack failed"; exit 1; }
for g in jax ow; do
  if ls "$WORK/wheels/$g/"*.whl >/dev/null 2>&1; then
    if timeout -k 5 120 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target "$WORK/site-$g" "$WORK/wheels/$g/"*.whl; then
      say "wheels $g -> $WORK/site-$g: $(ls "$WORK/wheels/$g" | tr '\n' ' ')"
    else
      say "wheels $g: pip install failed"
    fi
  fi
done

# 3. CT2 -> HF (stdlib-only converter), once per model
MODELS=${MODELS:-$(ls "$WORK/models")}
for m in $MODELS; do
  timeout -k 5 120 "$PY" bench/convert/ct2_to_hf.py "$WORK/models/$m" "$WORK/models/peers/$m/hf" \
    && say "converted $m to HF" || say "HF conversion of $m failed"
done

# 4. cwhisper's CUDA back end: build it if the CMake option exists
mkdir -p "$WORK/raw"
: > "$WORK/plan.tsv"
CW_CUDA_BIN=""
if [ "$DEVICE" = cuda ]; then
  if timeout -k 5 60 cmake -S . -B "$WORK/build-cuda" -DCW_CUDA=ON -DCMAKE_BUILD_TYPE=Release -DCW_BUILD_TESTS=OFF \
      > "$WORK/cmake-cuda.log" 2>&1; then
    if timeout -k 5 180 cmake --build "$WORK/build-cuda" -j "$NPROC" > "$WORK/build-cuda.log" 2>&1 \
        && [ -x "$WORK/build-cuda/cwhisper" ]; then
      CW_CUDA_BIN="$WORK/build-cuda/cwhisper"
      say "cwhisper CUDA back end: built ($CW_CUDA_BIN)"
    else
      say "cwhisper CUDA back end: configured but the build failed:"; tail -20 "$WORK/build-cuda.log"
    fi
  else
    say "cwhisper CUDA back end: not built yet ($(grep -m1 -E 'Error|error' "$WORK/cmake-cuda.log" | head -c 200))"
    grep -m1 -A1 'CMake Error' "$WORK/cmake-cuda.log" | sed 's/^/  /'
  fi
else
  say "cwhisper CUDA back end: not tried (DEVICE=cpu)"
fi
if [ -z "$CW_CUDA_BIN" ]; then
  printf 'cwhisper\tcwhisper\t-\t-\t-\t-\tnot-built\t0\t\n' >> "$WORK/plan.tsv"
fi

# 5. the peers. step IMPL ADAPTER MODEL DTYPE BATCH INPUT MAX_S
N=0
step() {
  local impl=$1 adapter=$2 model=$3 dtype=$4 batch=$5 input=$6 max=$7
  local wav="$WORK/audio/$input.wav" id json t rem rc t1 site=""
  [ -d "$WORK/models/$model" ] || return 0
  [ -f "$wav" ] || return 0
  N=$((N + 1))
  id=$(printf '%02d-%s-%s-%s-b%s-%s' "$N" "$impl" "$model" "$dtype" "$batch" "$input")
  json="$WORK/raw/$id.json"
  rem=$(( $(left) - RESERVE ))
  if [ "$rem" -lt 25 ]; then
    say "$id: skipped (time budget: ${rem}s left)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\tskipped-budget\t0\t\n' "$impl" "$adapter" "$model" "$dtype" "$batch" "$input" >> "$WORK/plan.tsv"
    return 0
  fi
  t=$(( max < rem ? max : rem ))
  case $adapter in
    flax_whisper) site="$WORK/site-jax" ;;
    openai_whisper) site="$WORK/site-ow" ;;
  esac
  say "$id: start (timeout ${t}s)"
  t1=$(date +%s)
  if [ "$adapter" = cwhisper ]; then
    CWHISPER="$CW_CUDA_BIN" timeout -k 5 "$t" "$PY" bench/peers/cwhisper.py --model "$WORK/models/$model" \
      --device "$DEVICE" --dtype "$dtype" --batch-size "$batch" --threads "$THREADS" --repeat 2 \
      --out "$json" "$wav" > "$WORK/raw/$id.log" 2>&1
  else
    PYTHONPATH="$site" PYTHONUNBUFFERED=1 timeout -k 5 "$t" "$PY" bench/gpu/peer.py "$adapter" \
      --model "$WORK/models/$model" --device "$DEVICE" --dtype "$dtype" --batch-size "$batch" \
      --threads "$THREADS" --repeat 2 --out "$json" "$wav" > "$WORK/raw/$id.log" 2>&1
  fi
  rc=$?
  local wall=$(( $(date +%s) - t1 )) st=ok
  [ $rc -ne 0 ] && st="exit-$rc"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && st="timeout-${t}s"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$adapter" "$model" "$dtype" "$batch" "$input" "$st" "$wall" "$json" >> "$WORK/plan.tsv"
  say "$id: $st in ${wall}s"
  grep -E ': error:|Error|error' "$WORK/raw/$id.log" | grep -v Warning | tail -2 | cut -c1-300 | sed 's/^/    /'
}

HF=transformers-pipeline; OW=openai-whisper; JX=jax-flax-whisper
run_model_quick() {  # most wanted first: the deadline cuts from the end
  local m=$1 q=quick-5min
  step $HF hf_pipeline "$m" fp16 $BIG $q 90
  step $OW openai_whisper "$m" fp16 1 $q 90
  step $JX flax_whisper "$m" fp32 $BIG $q 150
  step $HF hf_pipeline "$m" fp32 $BIG $q 90
  step $HF hf_pipeline "$m" bf16 $BIG $q 90
  step $HF hf_pipeline "$m" fp16 1 $q 90
  step $JX flax_whisper "$m" bf16 $BIG $q 150
  step $HF hf_pipeline "$m" fp32 1 $q 90
  step $OW openai_whisper "$m" fp32 1 $q 90
  step $HF hf_pipeline "$m" bf16 1 $q 90
  step $JX flax_whisper "$m" fp16 $BIG $q 150
}
run_model_long() {
  local m=$1 l=long-30min
  step $HF hf_pipeline "$m" fp16 $BIG $l 120
  step $JX flax_whisper "$m" bf16 $BIG $l 150
  step $OW openai_whisper "$m" fp16 1 $l 150
}
if [ -n "$CW_CUDA_BIN" ]; then
  for m in $MODELS; do step cwhisper cwhisper "$m" fp16 1 quick-5min 120; done
fi
if [ "$PLAN" = dry ]; then
  # CPU: every adapter path once, fp16 on openai-whisper is refused on the CPU (recorded as the error)
  for m in $MODELS; do
    step $JX flax_whisper "$m" fp32 $BIG quick-5min 400
    step $OW openai_whisper "$m" fp32 1 quick-5min 300
    step $OW openai_whisper "$m" fp16 1 quick-5min 60
    step $HF hf_pipeline "$m" fp32 $BIG long-30min 300
  done
else
  for m in $MODELS; do run_model_quick "$m"; done
  for m in $MODELS; do run_model_long "$m"; done
fi

# 6. results
PYTHONPATH="$WORK/site-ow" "$PY" bench/gpu/summarize.py "$WORK" "$OUT" "$GPU" "$DEVICE" || say "summarize failed"
# every step's stderr (and the cmake logs) for a post-mortem, if it fits what comes back (16 MiB a file)
(cd "$WORK" && tar -czf "$OUT/step-logs.tar.gz" raw/*.log $(ls cmake-cuda.log build-cuda.log 2>/dev/null)) 2>/dev/null
[ -f "$OUT/step-logs.tar.gz" ] && [ "$(stat -c %s "$OUT/step-logs.tar.gz")" -gt 15000000 ] && rm -f "$OUT/step-logs.tar.gz"
say "done in $(( $(date +%s) - T0 ))s; results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
