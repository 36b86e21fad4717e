#!/usr/bin/env bash
# `cwhisper transcribe --batch-size N FILE...` in the sequential mode: the
# files run in lockstep, and every output file (json: tokens, times, scores;
# srt) is byte for byte the one a one-file-at-a-time run writes, and stdout
# keeps the command line's order; a missing file among them is one stderr
# line naming it, exit 1, the others written.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"

h=$speech/harvard-sentences/audio
files=("$jfk" "$h/spk1_snt2.wav" "$speech/no-such-set/gone.wav" "$h/spk2_snt1.wav" "$h/spk1_snt4.wav")
mkdir -p "$tmp/one" "$tmp/b3"
"$cli" transcribe "${m[@]}" --output-format all --output-dir "$tmp/one" "${files[@]}" 2>"$tmp/err1"
rc1=$?
"$cli" transcribe "${m[@]}" --batch-size 3 --output-format all --output-dir "$tmp/b3" "${files[@]}" 2>"$tmp/err3"
rc3=$?
if [ "$rc1" -eq 1 ] && [ "$rc3" -eq 1 ]; then ok; else bad "exit $rc1 one by one, $rc3 in lockstep (want 1)"; fi
if [ "$(wc -l <"$tmp/err3")" -eq 1 ] && grep -q "gone.wav" "$tmp/err3"; then ok
else bad "lockstep stderr is not one line naming the missing file: $(cat "$tmp/err3")"; fi
n=0
for f in "$tmp"/one/*; do
  n=$((n + 1))
  if cmp -s "$f" "$tmp/b3/$(basename "$f")"; then ok; else bad "$(basename "$f") differs in lockstep"; fi
done
[ "$n" -eq 20 ] && [ "$(ls "$tmp/b3" | wc -l)" -eq 20 ] && ok || bad "$n outputs one by one, $(ls "$tmp/b3" | wc -l) in lockstep (want 20)"
grep -q "ask not what your country" "$tmp/b3/jfk.txt" && ok || bad "jfk.txt: $(cat "$tmp/b3/jfk.txt")"

# to stdout: in the order of the command line (jfk, the longest, finishes last)
few=("$jfk" "$h/spk1_snt2.wav" "$h/spk2_snt1.wav")
"$cli" transcribe "${m[@]}" "${few[@]}" >"$tmp/one.txt" 2>/dev/null
"$cli" transcribe "${m[@]}" --batch-size 3 "${few[@]}" >"$tmp/b3.txt" 2>/dev/null
if cmp -s "$tmp/one.txt" "$tmp/b3.txt" && [ -s "$tmp/b3.txt" ]; then ok
else bad "stdout differs in lockstep: $(diff "$tmp/one.txt" "$tmp/b3.txt")"; fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
