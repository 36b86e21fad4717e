#!/usr/bin/env bash
# `cwhisper transcribe --long-form chunked`: the flags' range errors (one line
# on stderr, exit 2, nothing on stdout) and a chunked, batched run on jfk.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"

c=(--long-form chunked)
refused 2 "unknown mode" "--long-form: 'parallel'" "${m[@]}" --long-form parallel "$jfk"
refused 2 "batch 0" "--batch-size" "${m[@]}" "${c[@]}" --batch-size 0 "$jfk"
refused 2 "batch 65" "--batch-size" "${m[@]}" "${c[@]}" --batch-size 65 "$jfk"
refused 2 "batch not a number" "--batch-size" "${m[@]}" "${c[@]}" --batch-size four "$jfk"
refused 2 "chunk 0" "--chunk-length 0 is outside" "${m[@]}" "${c[@]}" --chunk-length 0 "$jfk"
refused 2 "chunk 31" "--chunk-length 31 is outside" "${m[@]}" "${c[@]}" --chunk-length 31 "$jfk"
refused 2 "stride 15" "--stride-length 15 is outside" "${m[@]}" "${c[@]}" --stride-length 15 "$jfk"
refused 2 "stride half the chunk" "under half the chunk" "${m[@]}" "${c[@]}" --chunk-length 10 --stride-length 5 "$jfk"
refused 2 "stride without chunked" "need --long-form chunked" "${m[@]}" --stride-length 2 "$jfk"
refused 2 "beam with chunked" "greedily" "${m[@]}" "${c[@]}" --beam-size 5 "$jfk"
refused 2 "missing value" "--batch-size needs a value" "${m[@]}" "$jfk" --batch-size

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
