#!/usr/bin/env bash
# Language detection with the multilingual base model, and the encoder pass it
# saves (cw_longform_params.language_from_window):
# - fp32, the first 30.5 s of a 53-s file (--clip-timestamps 0,30.5, to keep
#   the test short under the sanitizers): its first window is openai-whisper's
#   detection window, so detection reuses that window's encoding; the language
#   is en and the tokens are those of a run told --language en.
# - int8 (detection on the first window as decoded), short files: each file's
#   language right (de, fr, en), the outputs byte-identical one by one and in
#   lockstep, and jfk's tokens those of its --language en run.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"
if [ ! -f "$models/base/model.bin" ]; then
  if [ -n "${CI:-}" ]; then echo "FAIL: models/base is missing"; exit 1; fi
  echo "skipped: no base model"; echo "0 passed, 0 failed"; exit 0
fi
b=(--model "$models/base" --threads 2 --output-format json)
clip=(--clip-timestamps 0,30.5)
tokens() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["language"], [s["tokens"] for s in d["segments"]])' "$1"; }

son=$speech/librivox-readings/audio/sonnet001-en.mp3
mkdir -p "$tmp/det" "$tmp/en"
"$cli" transcribe "${b[@]}" "${clip[@]}" --output-dir "$tmp/det" "$son" 2>"$tmp/err" || bad "fp32 detect: $(tail -1 "$tmp/err")"
"$cli" transcribe "${b[@]}" "${clip[@]}" --language en --output-dir "$tmp/en" "$son" 2>"$tmp/err" || bad "fp32 en: $(tail -1 "$tmp/err")"
if [ "$(tokens "$tmp/det/sonnet001-en.json")" = "$(tokens "$tmp/en/sonnet001-en.json")" ]; then ok
else bad "fp32, 30.5 s: detected run differs from --language en: $(tokens "$tmp/det/sonnet001-en.json" | head -c 200)"; fi

ml=$speech/multilingual/audio
files=("$ml/de-picovoice-test.wav" "$ml/fr-picovoice-test.wav" "$jfk")
mkdir -p "$tmp/one" "$tmp/b3" "$tmp/jen"
"$cli" transcribe "${b[@]}" --dtype int8 --output-dir "$tmp/one" "${files[@]}" 2>"$tmp/err" || bad "int8: $(tail -1 "$tmp/err")"
"$cli" transcribe "${b[@]}" --dtype int8 --batch-size 3 --output-dir "$tmp/b3" "${files[@]}" 2>"$tmp/err" ||
  bad "int8 lockstep: $(tail -1 "$tmp/err")"
"$cli" transcribe "${b[@]}" --dtype int8 --language en --output-dir "$tmp/jen" "$jfk" 2>"$tmp/err" ||
  bad "int8 en: $(tail -1 "$tmp/err")"
for pair in de-picovoice-test:de fr-picovoice-test:fr jfk:en; do
  f=${pair%%:*} want=${pair#*:}
  got=$(tokens "$tmp/one/$f.json" | cut -d' ' -f1)
  [ "$got" = "$want" ] && ok || bad "int8 $f: language $got, want $want"
  cmp -s "$tmp/one/$f.json" "$tmp/b3/$f.json" && ok || bad "int8 $f: lockstep output differs"
done
if [ "$(tokens "$tmp/one/jfk.json")" = "$(tokens "$tmp/jen/jfk.json")" ]; then ok
else bad "int8 jfk: detected run differs from --language en"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
