#!/usr/bin/env bash
# `cwhisper transcribe --clip-timestamps` and `--carry-initial-prompt` against
# openai-whisper's transcribe(clip_timestamps=..., carry_initial_prompt=...)
# (tests/fixtures/transcribe/tiny.en-options.json, made by
# make_transcribe_options_refs.py on the same weights, fp32): every segment's
# tokens, times and text equal. Then the bad command lines of these options and
# of the writer options (--highlight-words, --max-line-*), and, in a build
# with word timestamps, the writer options end to end.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"

fixture=${CW_FIXTURES_DIR:?}/transcribe/tiny.en-options.json
if python3 - "$cli" "$fixture" "$CW_SHARED_DIR" "$tmp" "${m[@]}" >"$tmp/cmp" 2>&1 <<'EOF'
import json, os, subprocess, sys
cli, fixture, shared, tmp, model_args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
ref = json.load(open(fixture, encoding="utf-8"))
fails = 0
for case in ref["cases"]:
    name = os.path.basename(case["file"]) + " " + " ".join(f if len(f) < 40 else f[:37] + "..." for f in case["flags"])
    out = os.path.join(tmp, "case.json")
    p = subprocess.run([cli, "transcribe", *model_args, "--output-format", "json", *case["flags"],
                        os.path.join(shared, case["file"])], capture_output=True)
    if p.returncode != 0:
        print(f"FAIL {name}: exit {p.returncode}: {p.stderr.decode()}"); fails += 1; continue
    got = json.loads(p.stdout)
    problems = []
    if got["text"] != case["text"]:
        problems.append(f"text {got['text']!r} != {case['text']!r}")
    gs, rs = got["segments"], case["segments"]
    if len(gs) != len(rs):
        problems.append(f"{len(gs)} segments, reference {len(rs)}")
    for i, (g, r) in enumerate(zip(gs, rs)):
        if g["tokens"] != r["tokens"]:
            problems.append(f"segment {i}: tokens differ")
        if abs(g["start"] - r["start"]) > 1e-9 or abs(g["end"] - r["end"]) > 1e-9:
            problems.append(f"segment {i}: {g['start']}..{g['end']} != {r['start']}..{r['end']}")
        if g["text"] != r["text"]:
            problems.append(f"segment {i}: text {g['text']!r} != {r['text']!r}")
    if problems:
        print(f"FAIL {name}: " + "; ".join(problems[:4])); fails += 1
    else:
        print(f"ok   {name}: {len(gs)} segments equal")
print(f"{len(ref['cases']) - fails}/{len(ref['cases'])} cases equal to openai-whisper")
sys.exit(1 if fails else 0)
EOF
then ok; cat "$tmp/cmp"
else bad "against openai-whisper:"; cat "$tmp/cmp" >&2; fi

refused nonzero "clips in chunked mode" "--clip-timestamps needs --long-form sequential" \
  "${m[@]}" --long-form chunked --clip-timestamps 1,2 "$jfk"
refused nonzero "clips with --vad" "without --vad" "${m[@]}" --vad --clip-timestamps 1,2 "$jfk"
refused nonzero "clip not a number" "--clip-timestamps: '1,x'" "${m[@]}" --clip-timestamps 1,x "$jfk"
refused nonzero "negative clip" "each >= 0" "${m[@]}" --clip-timestamps -1 "$jfk"
refused nonzero "clip list ending in a comma" "not a list" "${m[@]}" --clip-timestamps 1, "$jfk"
refused nonzero "clips without value" "--clip-timestamps needs a value" "${m[@]}" "$jfk" --clip-timestamps
refused nonzero "line width 0" "--max-line-width: '0' is not an integer" "${m[@]}" --max-line-width 0 "$jfk"
if "$cli" transcribe --help | grep -q -- "^  --word-timestamps"; then
  wt=(--word-timestamps)
  for opt in "--highlight-words" "--max-line-count 2" "--max-line-width 42" "--max-words-per-line 5"; do
    # shellcheck disable=SC2086
    refused nonzero "$opt without word timestamps" "${opt%% *} requires --word-timestamps" "${m[@]}" $opt "$jfk"
  done
else
  wt=()
  refused nonzero "highlight without word timestamps" "--highlight-words requires --word-timestamps" \
    "${m[@]}" --highlight-words "$jfk"
  refused nonzero "line count without word timestamps" "--max-line-count requires --word-timestamps" \
    "${m[@]}" --max-line-count 2 --max-line-width 3 "$jfk"
fi

# Files in lockstep (--batch-size 2) take the clips and the carried prompt as
# a run of one file at a time does.
acoustic=$speech/english-fixtures/audio/mfa-acoustic-corpus.wav
clip_flags=(--clip-timestamps 0,8,8,16,16 --initial-prompt "A corpus." --carry-initial-prompt
            --no-condition-on-previous-text --output-format json)
"$cli" transcribe "${m[@]}" "${clip_flags[@]}" "$jfk" "$acoustic" >"$tmp/one.json" 2>"$tmp/err1" &&
  "$cli" transcribe "${m[@]}" "${clip_flags[@]}" --batch-size 2 "$jfk" "$acoustic" >"$tmp/lock.json" 2>"$tmp/err2" &&
  cmp -s "$tmp/one.json" "$tmp/lock.json" && [ -s "$tmp/one.json" ] && ok ||
  bad "lockstep with clips differs from one file at a time: $(cat "$tmp/err1" "$tmp/err2")"

# An empty clip list is the whole file, as openai-whisper's "".
"$cli" transcribe "${m[@]}" --clip-timestamps "" "$jfk" >"$tmp/all.txt" 2>"$tmp/err" &&
  grep -q "ask not what your country can do for you" "$tmp/all.txt" && ok || bad "empty clip list: $(cat "$tmp/err")"

# The writer options end to end (needs the word-timestamp stage): lines of at
# most 42 characters unless one word is longer, at most 2 lines a cue, a
# highlighted cue per word, and openai-whisper's warning for a line count
# without a width.
if [ ${#wt[@]} -gt 0 ]; then
  if "$cli" transcribe "${m[@]}" "${wt[@]}" --output-format srt --max-line-width 42 --max-line-count 2 "$jfk" \
      >"$tmp/w.srt" 2>"$tmp/err"; then
    python3 - "$tmp/w.srt" <<'EOF' && ok || bad "--max-line-width 42 --max-line-count 2: $(cat "$tmp/w.srt")"
import sys
cues = open(sys.argv[1], encoding="utf-8").read().split("\n\n")
cues = [c.split("\n")[2:] for c in cues if c.strip()]
assert len(cues) >= 2, cues
for lines in cues:
    assert 1 <= len(lines) <= 2, lines
    for line in lines:
        assert len(line) <= 42 or " " not in line, line
EOF
  else bad "word options: $(cat "$tmp/err")"; fi
  "$cli" transcribe "${m[@]}" "${wt[@]}" --output-format vtt --highlight-words "$jfk" >"$tmp/h.vtt" 2>"$tmp/err" &&
    [ "$(grep -c '<u>' "$tmp/h.vtt")" -ge 20 ] && ok || bad "--highlight-words: $(cat "$tmp/h.vtt" "$tmp/err")"
  "$cli" transcribe "${m[@]}" "${wt[@]}" --output-format srt --max-line-count 2 "$jfk" >/dev/null 2>"$tmp/err" &&
    grep -q "warning: --max-line-count has no effect without --max-line-width" "$tmp/err" && ok ||
    bad "no warning for --max-line-count alone: $(cat "$tmp/err")"
else
  echo "skipped: the writer options end to end (no --word-timestamps in this build)"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
