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
# cwhisper itself (step 4): built here with CUDA (and without FFmpeg if the host
# lacks it: the pack's audio is 16 kHz mono WAV), its CUDA op tests run against
# the CPU reference, token parity of --device cuda --dtype fp32 against the CPU,
# then its timings (fp16/bf16, batch 1/8/24) before the peers'. Every stage
# prints PASS / FAIL / SKIP on its "[run.sh Ns]" line; CW_ONLY=1 stops there
# (no peers: the quick local dry run, bench/gpu/dry-run.sh with CW_ONLY=1).
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

# 4. cwhisper: build (CUDA when nvcc is there; FFmpeg if its development files
#    are, else the WAV-only audio reader: the H200 host has none), then
#    4a the CUDA op tests against the CPU reference (tests/unit/test_cuda_ops.c),
#    4b token parity: --device $PDEV --dtype fp32 against the CPU's fp32 run on
#       the parity inputs (audio/parity-*.wav when packed, and quick-5min),
#    4c the timings (step cwhisper ... in 5). Each line says PASS, FAIL or SKIP.
mkdir -p "$WORK/raw"
: > "$WORK/plan.tsv"
CW_CUDA_BIN=""
CW_BUILD=$WORK/build-cw
[ -z "${CUDACXX:-}" ] && [ -x /usr/local/cuda/bin/nvcc ] && export CUDACXX=/usr/local/cuda/bin/nvcc
if timeout -k 5 90 cmake -S . -B "$CW_BUILD" -DCMAKE_BUILD_TYPE=Release -DCW_CUDA=AUTO -DCW_FFMPEG=AUTO \
    > "$WORK/cmake-cuda.log" 2>&1; then
  grep -E 'cwhisper: (CUDA|FFmpeg)' "$WORK/cmake-cuda.log" | sed 's/^-- /  /'
  if timeout -k 5 180 cmake --build "$CW_BUILD" -j "$NPROC" --target cwhisper test_cuda_ops > "$WORK/build-cuda.log" 2>&1 \
      && [ -x "$CW_BUILD/cwhisper" ]; then
    CW_CUDA_BIN="$CW_BUILD/cwhisper"
    say "cwhisper build: PASS ($CW_CUDA_BIN; CUDA back end $(grep -q 'CUDA back end ON' "$WORK/cmake-cuda.log" && echo ON || echo OFF))"
  else
    say "cwhisper build: FAIL"; grep -E 'error|Error' "$WORK/build-cuda.log" | head -10 | cut -c1-300 | sed 's/^/  /'
  fi
else
  say "cwhisper build: FAIL (cmake)"; grep -A2 'CMake Error' "$WORK/cmake-cuda.log" | head -6 | sed 's/^/  /'
fi
PDEV=cuda; [ "$DEVICE" = cpu ] && PDEV=cpu   # the dry run compares two CPU runs: the script path, not the GPU
if [ -n "$CW_CUDA_BIN" ]; then
  # 4a. every op of the CUDA back end against the CPU reference
  if [ -x "$CW_BUILD/tests/test_cuda_ops" ]; then
    timeout -k 5 60 "$CW_BUILD/tests/test_cuda_ops" > "$OUT/cuda-ops.log" 2>&1
    rc=$?
    sed 's/^/  /' "$OUT/cuda-ops.log" | tail -25
    if grep -q '^skipped:' "$OUT/cuda-ops.log"; then say "CUDA op tests: SKIP ($(grep -m1 '^skipped:' "$OUT/cuda-ops.log"))"
    elif [ $rc -eq 0 ]; then say "CUDA op tests: PASS ($(tail -1 "$OUT/cuda-ops.log"))"
    else say "CUDA op tests: FAIL (exit $rc: $(grep -c '^FAIL' "$OUT/cuda-ops.log") failed checks)"; fi
  fi
  # 4b. token parity, fp32, on the first model
  pm=$(echo $MODELS | cut -d' ' -f1)
  pfiles=$(ls "$WORK"/audio/parity-*.wav 2>/dev/null; ls "$WORK/audio/quick-5min.wav" 2>/dev/null)
  if [ -n "$pfiles" ] && [ -d "$WORK/models/$pm" ]; then
    rm -rf "$WORK/parity" && mkdir -p "$WORK/parity/cpu" "$WORK/parity/$PDEV-run"
    t1=$(date +%s)
    # shellcheck disable=SC2086
    timeout -k 5 75 "$CW_CUDA_BIN" transcribe --model "$WORK/models/$pm" --threads "$THREADS" --dtype fp32 \
      --output-format json --output-dir "$WORK/parity/cpu" $pfiles > "$WORK/parity/cpu.log" 2>&1
    rc1=$?; t2=$(date +%s)
    # shellcheck disable=SC2086
    timeout -k 5 75 "$CW_CUDA_BIN" transcribe --model "$WORK/models/$pm" --threads "$THREADS" --dtype fp32 \
      --device "$PDEV" --output-format json --output-dir "$WORK/parity/$PDEV-run" $pfiles > "$WORK/parity/$PDEV.log" 2>&1
    rc2=$?; t3=$(date +%s)
    if [ $rc1 -ne 0 ]; then say "parity: FAIL (the CPU run: exit $rc1: $(tail -1 "$WORK/parity/cpu.log"))"
    elif [ $rc2 -ne 0 ]; then say "parity: FAIL (--device $PDEV: exit $rc2: $(tail -1 "$WORK/parity/$PDEV.log"))"
    else
      "$PY" bench/gpu/parity_tokens.py "$WORK/parity/cpu" "$WORK/parity/$PDEV-run" --json "$OUT/parity.json" \
        > "$OUT/parity.log" 2>&1
      sed 's/^/  /' "$OUT/parity.log" | tail -12
      line=$(grep '^parity:' "$OUT/parity.log")
      same=$(echo "$line" | sed -E 's/^parity: ([0-9]+)\/([0-9]+).*/\1/'); n=$(echo "$line" | sed -E 's/^parity: ([0-9]+)\/([0-9]+).*/\2/')
      verdict=FAIL; [ -n "$n" ] && [ "$n" -gt 0 ] && [ $(( same * 100 )) -ge $(( n * 97 )) ] && verdict=PASS
      say "parity ($pm, fp32, $PDEV vs cpu, cpu $((t2 - t1))s, $PDEV $((t3 - t2))s): $verdict (${line#parity: })"
    fi
  else
    say "parity: SKIP (no packed audio or model)"
  fi
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
    local lf=sequential; [ "$batch" -gt 1 ] && lf=chunked
    CWHISPER_LONG_FORM=$lf CWHISPER="$CW_CUDA_BIN" timeout -k 5 "$t" "$PY" bench/peers/cwhisper.py --model "$WORK/models/$model" \
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
  # 4c. cwhisper's own timings first (GPU: --device cuda; the dry run: the CPU);
  # the long recording with fp16/bf16 at batch 1 (sequential), 8 and 24 (chunked)
  CW=cwhisper; CWC=cwhisper-chunked
  for m in $MODELS; do
    step $CW cwhisper "$m" fp16 1 quick-5min 90
    step $CWC cwhisper "$m" fp16 24 long-30min 120
    step $CWC cwhisper "$m" bf16 24 long-30min 120
    step $CWC cwhisper "$m" fp16 8 long-30min 120
    step $CW cwhisper "$m" fp16 1 long-30min 150
    [ "$PLAN" = dry ] || step $CW cwhisper "$m" fp32 1 quick-5min 90
  done
fi
if [ "${CW_ONLY:-0}" = 1 ]; then
  say "CW_ONLY=1: the peers are not run"
elif [ "$PLAN" = dry ]; then
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
say "steps: $(cut -f7 "$WORK/plan.tsv" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')"

# 6. results
PYTHONPATH="$WORK/site-ow" "$PY" bench/gpu/summarize.py "$WORK" "$OUT" "$GPU" "$DEVICE" || say "summarize failed"
{ echo; echo "## cwhisper stages (run.sh step 4)"; echo
  grep -E '\] (cwhisper build|CUDA op tests|parity)' "$OUT/log.txt" | sed 's/^\[run.sh [0-9]*s\] /- /'
} >> "$OUT/summary.md"
# every step's stderr (and the cmake logs) for a post-mortem, if it fits what comes back (16 MiB a file)
(cd "$WORK" && tar -czf "$OUT/step-logs.tar.gz" raw/*.log $(ls cmake-cuda.log build-cuda.log parity/*.log 2>/dev/null)) 2>/dev/null
[ -f "$OUT/step-logs.tar.gz" ] && [ "$(stat -c %s "$OUT/step-logs.tar.gz")" -gt 15000000 ] && rm -f "$OUT/step-logs.tar.gz"
say "done in $(( $(date +%s) - T0 ))s; results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
