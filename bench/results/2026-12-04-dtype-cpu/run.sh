#!/usr/bin/env bash
# WER of tiny.en on 20 files of librispeech-test-other-100 (every 5th file:
# all 10 speakers; EVERY=1 for all 100) for each --dtype, and word agreement
# with fp32 (the WER of each dtype's transcripts scored against fp32's). Usage,
# from the repository root after `make`:
#   [CLI=build/cwhisper] [EVERY=5] [DTYPES="fp32 fp16 bf16 int8"] [OUT=dir] \
#   bench/results/2026-12-04-dtype-cpu/run.sh [THREADS]
set -eu
cli=${CLI:-./build/cwhisper}
set_dir=../shared/speech/librispeech-test-other-100
[ -d "$set_dir" ] || set_dir=/work/shared/speech/librispeech-test-other-100
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
thr=${1:-2}
files=$(ls "$set_dir"/audio/*.flac | awk -v e="${EVERY:-5}" 'NR % e == 1 % e')
ids=$(for f in $files; do basename "$f" .flac; done)
grep -F -f <(echo "$ids") "$set_dir/transcripts.txt" > "$out/refs.txt"
for d in ${DTYPES:-fp32 fp16 bf16 int8}; do
  mkdir -p "$out/$d"
  t0=$(date +%s.%N)
  $cli transcribe --model models/tiny.en --threads "$thr" --dtype "$d" --output-dir "$out/$d" $files
  t1=$(date +%s.%N)
  for id in $ids; do printf '%s %s\n' "$id" "$(tr '\n' ' ' < "$out/$d/$id.txt")"; done > "$out/$d.hyps.txt"
  echo "$d: $($cli eval --refs "$out/refs.txt" --hyps "$out/$d.hyps.txt")  [$(echo "$t1 - $t0" | bc) s wall, noisy]"
  [ "$d" = fp32 ] || echo "$d vs fp32: $($cli eval --refs "$out/fp32.hyps.txt" --hyps "$out/$d.hyps.txt")"
done
echo "transcripts in $out"
