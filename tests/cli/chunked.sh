#!/usr/bin/env bash
# `cwhisper transcribe --long-form chunked`: the flags' range errors (one line
# on stderr, exit 2, nothing on stdout) and a chunked, batched run on jfk.
set -u
cli=${CW_CLI:?run through ctest}
models=${CW_MODELS_DIR:?}
speech=${CW_SHARED_DIR:?}/speech
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

if [ ! -f "$models/tiny.en/model.bin" ]; then
  if [ -n "${CI:-}" ]; then echo "FAIL: models/tiny.en is missing"; exit 1; fi
  echo "skipped: no model"; echo "0 passed, 0 failed"; exit 0
fi
m=(--model "$models/tiny.en" --threads 2)
jfk=$speech/english-fixtures/audio/jfk.flac

# usage_error NAME PATTERN ARGS...: exit 2, one stderr line matching PATTERN, nothing on stdout.
usage_error() {
  local name=$1 pattern=$2
  shift 2
  "$cli" transcribe "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne 2 ]; then bad "$name: exit $rc, not 2"
  elif [ "$(wc -l <"$tmp/err")" -ne 1 ]; then bad "$name: stderr is not one line: $(cat "$tmp/err")"
  elif ! grep -qi -- "$pattern" "$tmp/err"; then bad "$name: '$(cat "$tmp/err")' lacks '$pattern'"
  elif [ -s "$tmp/out" ]; then bad "$name: wrote to stdout"
  else ok; fi
}

c=(--long-form chunked)
usage_error "unknown mode" "--long-form: 'parallel'" "${m[@]}" --long-form parallel "$jfk"
usage_error "batch 0" "--batch-size" "${m[@]}" "${c[@]}" --batch-size 0 "$jfk"
usage_error "batch 65" "--batch-size" "${m[@]}" "${c[@]}" --batch-size 65 "$jfk"
usage_error "batch not a number" "--batch-size" "${m[@]}" "${c[@]}" --batch-size four "$jfk"
usage_error "chunk 0" "--chunk-length 0 is outside" "${m[@]}" "${c[@]}" --chunk-length 0 "$jfk"
usage_error "chunk 31" "--chunk-length 31 is outside" "${m[@]}" "${c[@]}" --chunk-length 31 "$jfk"
usage_error "stride 15" "--stride-length 15 is outside" "${m[@]}" "${c[@]}" --stride-length 15 "$jfk"
usage_error "stride half the chunk" "under half the chunk" "${m[@]}" "${c[@]}" --chunk-length 10 --stride-length 5 "$jfk"
usage_error "batch without chunked" "need --long-form chunked" "${m[@]}" --batch-size 4 "$jfk"
usage_error "stride without chunked" "need --long-form chunked" "${m[@]}" --stride-length 2 "$jfk"
usage_error "beam with chunked" "greedily" "${m[@]}" "${c[@]}" --beam-size 5 "$jfk"
usage_error "missing value" "--batch-size needs a value" "${m[@]}" "$jfk" --batch-size

if "$cli" transcribe --help | grep -q -- "--long-form sequential|chunked"; then ok; else bad "--help lacks --long-form"; fi

# jfk chunked with batch 2 (one chunk: the net grows to 2 windows anyway),
# then 6 s chunks (three, batched together): the merge keeps the text whole.
if "$cli" transcribe "${m[@]}" "${c[@]}" --batch-size 2 --output-format json "$jfk" >"$tmp/b2.json" 2>"$tmp/err" &&
   grep -q "ask not what your country can do for you" "$tmp/b2.json"; then ok
else bad "jfk chunked: $(cat "$tmp/b2.json" "$tmp/err")"; fi
if "$cli" transcribe "${m[@]}" "${c[@]}" --batch-size 3 --chunk-length 6 --stride-length 1 --output-format srt \
     "$jfk" >"$tmp/short.srt" 2>"$tmp/err" && grep -q -- "--> 00:00:1[01]" "$tmp/short.srt" &&
   grep -q "fellow Americans ask not what your country can do for you" "$tmp/short.srt"; then ok
else bad "jfk 6 s chunks: $(cat "$tmp/short.srt" "$tmp/err")"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
