#!/usr/bin/env bash
# `cwhisper transcribe`: outputs on disk and on stdout, several files in one
# call, and the bad inputs of the transcription issue: each a single clear
# line on stderr, a non-zero exit, and no output written.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"

refused nonzero "unknown language" "unknown language 'xx'" "${m[@]}" --language xx "$jfk"
refused nonzero "translate with .en" "English-only model cannot translate" "${m[@]}" --task translate "$jfk"
refused nonzero "other language with .en" "English-only" "${m[@]}" --language de "$jfk"
refused nonzero "beam size 0" "--beam-size" "${m[@]}" --beam-size 0 "$jfk"
refused nonzero "temperature 1.5" "--temperature 1.5 is outside" "${m[@]}" --temperature 1.5 "$jfk"
refused nonzero "temperature -0.1" "outside" "${m[@]}" --temperature -0.1 "$jfk"
refused nonzero "output dir is a file" "output directory" "${m[@]}" --output-dir "$jfk" "$jfk"
refused nonzero "output dir missing" "output directory" "${m[@]}" --output-dir "$tmp/missing/dir" "$jfk"
refused nonzero "missing audio" "nope.wav" "${m[@]}" "$tmp/nope.wav"
printf 'not audio at all, just text' >"$tmp/fake.mp3"
refused nonzero "random bytes" "fake.mp3" "${m[@]}" "$tmp/fake.mp3"
refused nonzero "bad format" "--output-format" "${m[@]}" --output-format doc "$jfk"

# stdout: the text of jfk.
if "$cli" transcribe "${m[@]}" "$jfk" >"$tmp/jfk.txt" 2>"$tmp/err" &&
   grep -q "ask not what your country can do for you" "$tmp/jfk.txt"; then ok
else bad "jfk to stdout: $(cat "$tmp/jfk.txt" "$tmp/err")"; fi

# Several files in one call, every format, into a directory; then a failing
# file among good ones: the good outputs are written and the exit is 1.
mkdir -p "$tmp/outdir"
pocket=$speech/pocketsphinx/audio
two=$(ls "$pocket"/*.wav | head -n 2)
# shellcheck disable=SC2086
if "$cli" transcribe "${m[@]}" --output-format all --output-dir "$tmp/outdir" "$jfk" $two 2>"$tmp/err"; then
  n=$(ls "$tmp/outdir" | wc -l)
  [ "$n" -eq 15 ] && ok || bad "expected 15 output files, got $n: $(ls "$tmp/outdir")"
  grep -q -- "-->" "$tmp/outdir/jfk.srt" && grep -q "^WEBVTT" "$tmp/outdir/jfk.vtt" && ok || bad "srt/vtt content"
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['language']=='en' and j['segments'] and j['model']" "$tmp/outdir/jfk.json" && ok || bad "json content"
  ls "$tmp/outdir" | grep -q tmp && bad "temporary files left in the output directory" || ok
else bad "all formats: $(cat "$tmp/err")"; fi
"$cli" transcribe "${m[@]}" --output-dir "$tmp/out2" "$jfk" >/dev/null 2>&1 && bad "missing output dir accepted"
mkdir -p "$tmp/out2"
"$cli" transcribe "${m[@]}" --output-dir "$tmp/out2" "$tmp/nope.wav" "$jfk" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ -s "$tmp/out2/jfk.txt" ] && ok || bad "one bad file among good ones: rc $rc, $(ls "$tmp/out2")"

# Silence: no segments (as the reference, which skips windows with no speech).
python3 -c "import sys; sys.stdout.buffer.write(bytes(16000*2*5))" >"$tmp/silence.raw"
"$cli" transcribe "${m[@]}" --output-format json - <"$tmp/silence.raw" >"$tmp/silence.json" 2>"$tmp/err" &&
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['segments']==[], j['segments']" "$tmp/silence.json" && ok ||
  bad "silence: $(cat "$tmp/silence.json" "$tmp/err")"

# --print-timings: the load once, then one line per file (the bench adapter parses these).
"$cli" transcribe "${m[@]}" --print-timings "$jfk" "$jfk" >/dev/null 2>"$tmp/err" &&
  [ "$(grep -c '^cwhisper: timings: load [0-9.]* s$' "$tmp/err")" -eq 1 ] &&
  [ "$(grep -c '^cwhisper: timings: file .*jfk.flac: [0-9.]* s for 11.000 s of audio' "$tmp/err")" -eq 2 ] && ok ||
  bad "--print-timings: $(cat "$tmp/err")"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
