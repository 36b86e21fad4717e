#!/usr/bin/env bash
# bench/parity/options.sh [MODEL] [OUTDIR]
#
# Token parity with openai-whisper for the decoding options beyond the
# defaults, on jfk and five LibriSpeech speakers: beam search with best-of
# (the openai-whisper command line's --beam_size 5 --best_of 5) and an
# initial prompt. Writes OUTDIR/<case>/{ref,cw}.jsonl and parity.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
model=${1:-tiny.en}
out=${2:-$root/bench/results/parity-options-$model-$(date +%Y-%m-%d)}
speech=$(cd "$root/../shared/speech" && pwd)
PY=${PYTHON:-python3}
mdir=$root/models/$model
files="$speech/english-fixtures/audio/jfk.flac $(ls "$speech"/librispeech-test-other-100/audio/*-0001.flac | head -n 5 | tr '\n' ' ')"
run_case() {
  local name=$1
  shift
  mkdir -p "$out/$name"
  # shellcheck disable=SC2086
  "$PY" "$root/bench/parity/reference.py" "$mdir" "$out/$name/ref.jsonl" "$@" $files 2>/dev/null
  # shellcheck disable=SC2086
  "$PY" "$root/bench/parity/cwhisper.py" "$root/build/cwhisper" "$mdir" "$out/$name/cw.jsonl" "$@" $files
  echo "== $name: $("$PY" "$root/bench/parity/compare.py" "$out/$name/ref.jsonl" "$out/$name/cw.jsonl" "$out/$name/" | head -n 1)"
}
run_case beam5-bestof5 --beam-size 5 --best-of 5
run_case initial-prompt --initial-prompt "Mr. Kennedy spoke about the country, its people and their duty."
