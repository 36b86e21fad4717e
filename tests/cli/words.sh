#!/usr/bin/env bash
# --word-timestamps against openai-whisper (tests/fixtures/make_word_refs.py,
# tiny.en, fp32): on four english-fixtures files the words are equal, their
# times within 0.02 s and probabilities within 1e-3, the segments' times
# too; --hallucination-silence-threshold 2 on speech with 10 s silences
# (built here by lib/make_silence_wav.py) gives openai-whisper's segments;
# --vad maps the words back; the flags' refusals.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"
lib=$(dirname "$0")/lib
fx=${CW_FIXTURES_DIR:?}/words
a=$speech/english-fixtures/audio

refused nonzero "words in chunked mode" "word timestamps need --long-form sequential" "${m[@]}" \
  --word-timestamps --long-form chunked "$jfk"
refused nonzero "negative threshold" "must be positive" "${m[@]}" --hallucination-silence-threshold -1 "$jfk"

mkdir -p "$tmp/ef"
if "$cli" transcribe "${m[@]}" --word-timestamps true --output-format json --output-dir "$tmp/ef" "$a/jfk.flac" \
     "$a/mfa-cold-corpus.wav" "$a/librispeech-dev-clean-1272-128104-0004-8k.wav" "$a/ljspeech-LJ002-0020.wav" \
     2>"$tmp/err"; then
  python3 "$lib/words_compare.py" "$fx/tiny.en-ef.json" "$tmp/ef" >"$tmp/cmp" && ok || bad "english-fixtures: $(cat "$tmp/cmp")"
else bad "word timestamps: $(cat "$tmp/err")"; fi

# --word-timestamps false (openai-whisper's spelling): no "words"
"$cli" transcribe "${m[@]}" --word-timestamps False --output-format json "$jfk" >"$tmp/no.json" 2>"$tmp/err" &&
  ! grep -q '"words"' "$tmp/no.json" && ok || bad "--word-timestamps False: $(cat "$tmp/err")"

python3 "$lib/make_silence_wav.py" "$speech" "$tmp/silences.wav"
mkdir -p "$tmp/hst"
if "$cli" transcribe "${m[@]}" --word-timestamps --hallucination-silence-threshold 2 --output-format json \
     --output-dir "$tmp/hst" "$tmp/silences.wav" 2>"$tmp/err"; then
  python3 "$lib/words_compare.py" "$fx/tiny.en-silences.json" "$tmp/hst" >"$tmp/cmp" && ok ||
    bad "hallucination threshold: $(cat "$tmp/cmp")"
else bad "hallucination threshold: $(cat "$tmp/err")"; fi

# --vad: the words mapped back to the file's timeline (faster-whisper's
# restore_speech_timestamps): each segment spans its words, in order, and
# the speech after the first 10 s of silence starts near 10 s.
if [ -f "$models/silero-vad/silero_vad_v6.safetensors" ]; then
  "$cli" transcribe "${m[@]}" --word-timestamps --vad --vad-model "$models/silero-vad" --output-format json \
    "$tmp/silences.wav" >"$tmp/vad.json" 2>"$tmp/err" && python3 - "$tmp/vad.json" <<'EOF' && ok || bad "--vad words: $(cat "$tmp/err")"
import json, sys
segs = json.load(open(sys.argv[1]))["segments"]
assert len(segs) >= 4 and 9.5 < segs[0]["start"] < 10.5, segs[0]
last = 0.0
for s in segs:
    w = s["words"]
    assert w and s["start"] == w[0]["start"] and s["end"] == w[-1]["end"], s
    for x in w:
        assert last - 1e-9 <= x["start"] <= x["end"], (last, x)
        last = x["end"]
EOF
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
