#!/usr/bin/env bash
# `cwhisper transcribe --vad` and `--long-form vad-batched`: the VAD flags'
# range errors (one stderr line, exit 2, nothing on stdout), a missing VAD
# model (one line naming the path and scripts/fetch-model silero-vad), and
# runs on a 20 s file with a 1.7 s pause: Silero's first speech starts at
# 1.36 s, which the transcripts' first time must show; vad-batched decodes
# timestamp tokens by default and text only with --without-timestamps.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"

f=$speech/english-fixtures/audio/picovoice-diarization-test.wav
vb=(--long-form vad-batched)
refused 2 "threshold 1.5" "--vad-threshold 1.5 is out of range" "${m[@]}" --vad --vad-threshold 1.5 "$f"
refused 2 "threshold not a number" "--vad-threshold" "${m[@]}" --vad --vad-threshold half "$f"
refused 2 "negative silence" "--vad-min-silence-ms -1 is out of range" "${m[@]}" --vad --vad-min-silence-ms -1 "$f"
refused 2 "max speech 0" "--vad-max-speech-s 0 is out of range" "${m[@]}" --vad --vad-max-speech-s 0 "$f"
refused 2 "unknown vad flag" "unknown option --vad-bogus" "${m[@]}" --vad --vad-bogus 1 "$f"
refused 2 "--vad with vad-batched" "vad-batched always uses the VAD" "${m[@]}" "${vb[@]}" --vad "$f"
refused 2 "beam with vad-batched" "greedily" "${m[@]}" "${vb[@]}" --beam-size 5 "$f"
refused 2 "unknown mode" "sequential, chunked or vad-batched" "${m[@]}" --long-form vad "$f"
refused 1 "missing VAD model" "/nonexistent/silero_vad_v6.safetensors not found.*scripts/fetch-model silero-vad" "${m[@]}" "${vb[@]}" \
  --vad-model /nonexistent "$f"
refused 1 "missing VAD model, --vad" "scripts/fetch-model silero-vad" "${m[@]}" --vad --vad-model /nonexistent "$f"
if "$cli" transcribe --help | grep -q -- "--long-form vad-batched"; then ok; else bad "--help lacks vad-batched"; fi

if [ ! -f "$models/silero-vad/silero_vad_v6.safetensors" ]; then
  if [ -n "${CI:-}" ]; then bad "models/silero-vad is missing"; else echo "skipped: no VAD model"; fi
else
  v=(--vad-model "$models/silero-vad")
  # vad-batched, text only (--without-timestamps): one segment from the first speech to the last
  if "$cli" transcribe "${m[@]}" "${vb[@]}" "${v[@]}" --batch-size 2 --without-timestamps --output-format srt "$f" \
       >"$tmp/vb.srt" \
       2>"$tmp/err" && [ "$(grep -c -- "-->" "$tmp/vb.srt")" -eq 1 ] &&
     grep -q "^00:00:01,360 --> 00:00:19," "$tmp/vb.srt" && grep -q "crocodile" "$tmp/vb.srt" &&
     grep -q "turbulence" "$tmp/vb.srt"; then ok
  else bad "vad-batched: $(cat "$tmp/vb.srt" "$tmp/err")"; fi
  # the default, timestamp tokens: several segments, the first at the speech's start
  if "$cli" transcribe "${m[@]}" "${vb[@]}" "${v[@]}" --output-format srt "$f" \
       >"$tmp/vt.srt" 2>"$tmp/err" && [ "$(grep -c -- "-->" "$tmp/vt.srt")" -ge 3 ] &&
     grep -q "^00:00:01,360 --> " "$tmp/vt.srt" && grep -q "And so it begins" "$tmp/vt.srt"; then ok
  else bad "vad-batched with timestamps: $(cat "$tmp/vt.srt" "$tmp/err")"; fi
  # --vad-batched-timestamps (once needed for them) is still accepted and changes nothing
  if "$cli" transcribe "${m[@]}" "${vb[@]}" "${v[@]}" --vad-batched-timestamps --output-format srt "$f" \
       >"$tmp/vt2.srt" 2>"$tmp/err" && cmp -s "$tmp/vt.srt" "$tmp/vt2.srt"; then ok
  else bad "--vad-batched-timestamps differs from the default: $(diff "$tmp/vt.srt" "$tmp/vt2.srt"; cat "$tmp/err")"; fi
  # sequential --vad: the leading 1.36 s is skipped and the times mapped back
  if "$cli" transcribe "${m[@]}" --vad "${v[@]}" --output-format srt "$f" >"$tmp/sv.srt" 2>"$tmp/err" &&
     grep -q "^00:00:01,360 --> " "$tmp/sv.srt" && grep -q "crocodile" "$tmp/sv.srt"; then ok
  else bad "sequential --vad: $(cat "$tmp/sv.srt" "$tmp/err")"; fi
fi
# --without-timestamps (sequential): one segment for a 20 s file, no timestamp tokens
if "$cli" transcribe "${m[@]}" --without-timestamps --output-format json "$f" >"$tmp/wt.json" 2>"$tmp/err" &&
   python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = d["segments"]
assert len(s) == 1 and all(t < 50363 for t in s[0]["tokens"]) and "crocodile" in d["text"], s
' "$tmp/wt.json"; then ok
else bad "--without-timestamps: $(cat "$tmp/wt.json" "$tmp/err")"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
