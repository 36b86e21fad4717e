#!/usr/bin/env bash
# bench/parity/run.sh MODEL [OUTDIR]
#
# Token parity and WER of cwhisper against the reference (openai-whisper,
# PyTorch CPU fp32, transcribe() defaults) on the issue's sets, both on the
# same CT2 weights and 2 threads. Needs bench/setup's Python (openai-whisper,
# torch) or those packages on python3. Writes per set: ref.jsonl, cw.jsonl,
# parity.json, hyps-REF.txt, hyps-CW.txt and wer.txt; prints a summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
model=${1:?usage: bench/parity/run.sh MODEL [OUTDIR]}
out=${2:-$root/bench/results/parity-$model-$(date +%Y-%m-%d)}
speech=$(cd "$root/../shared/speech" && pwd)
PY=${PYTHON:-python3}
cli=$root/build/cwhisper
threads=${THREADS:-2}
mdir=$root/models/$model
[ -x "$cli" ] || make -C "$root" build >/dev/null
[ -f "$mdir/model.bin" ] || "$root/scripts/fetch-model" "$model"
mkdir -p "$out"
sets=${SETS:-"librispeech-test-other-100 english-fixtures ljspeech-LJ001 pocketsphinx longform"}
for set in $sets; do
  if [ "$set" = longform ]; then
    files=$speech/longform/audio/english-mix-16k-concat.flac
  else
    files=$(ls "$speech/$set"/audio/* | grep -E '\.(wav|flac|mp3|ogg|opus|aiff|m4a)$' | sort)
  fi
  d=$out/$set
  mkdir -p "$d"
  echo "== $set ($model)" >&2
  # shellcheck disable=SC2086
  "$PY" "$root/bench/parity/reference.py" "$mdir" "$d/ref.jsonl" --threads "$threads" $files
  # shellcheck disable=SC2086
  "$PY" "$root/bench/parity/cwhisper.py" "$cli" "$mdir" "$d/cw.jsonl" --threads "$threads" $files
  "$PY" "$root/bench/parity/compare.py" "$d/ref.jsonl" "$d/cw.jsonl" "$d/" | tee "$d/summary.txt"
  "$PY" "$root/bench/parity/gap.py" "$mdir" "$d/ref.jsonl" "$d/parity.json" 2>/dev/null | tee -a "$d/summary.txt"
  # Score only the files run (longform/ also holds a TED excerpt).
  refs=$d/refs.txt
  # The English normaliser does not fit other languages: no WER for multilingual/.
  : >"$refs"
  [ "$set" = multilingual ] || cut -d' ' -f1 "$d/hyps-REF.txt" | grep -F -w -f - "$speech/$set/transcripts.txt" >"$refs" || true
  if [ -s "$refs" ] && "$cli" eval --help >/dev/null 2>&1; then
    for side in REF CW; do
      echo "$side: $("$cli" eval --refs "$refs" --hyps "$d/hyps-$side.txt" | tail -n 1)"
    done | tee "$d/wer.txt"
  fi
done
