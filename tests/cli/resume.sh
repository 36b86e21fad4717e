#!/usr/bin/env bash
# Batch runs that survive being killed: 20 short files (tiny.en, int8; 3
# under the sanitizers) into --output-dir, every format, run uninterrupted
# once for the reference; then runs with --skip-existing killed at random
# points by SIGINT, SIGTERM and SIGKILL, each resumed by the next, the last one
# left to finish. Checks:
# SIGINT/SIGTERM exit 130/143 with one "stopped by" line and leave no
# temporary file; after any kill every output present is byte-equal to the
# reference (never half written); the resumed run skips the files already
# done without rewriting them; in the end every output equals the reference
# and no temporary file is left. CW_RESUME_SEED=N replays a run.
set -u
. "$(dirname "$0")/lib/transcribe_prologue.sh"

seed=${CW_RESUME_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$seed
echo "seed $seed (CW_RESUME_SEED=$seed replays it)"
# the 20 smallest clips (2-5 s each); under the sanitizers (10x slower) 3
# clips, one SIGINT and one SIGKILL
n=20 sigs=(INT TERM KILL INT TERM KILL)
[ "${CW_SANITIZE:-0}" = 1 ] && n=3 sigs=(INT KILL)
files=$(ls -S "$speech"/librispeech-test-other-100/audio/*.flac | tail -n "$n" | sort)
[ "$(echo "$files" | wc -l)" -eq "$n" ] || { echo "FAIL: $n files not found"; exit 1; }
args=(--model "$models/tiny.en" --threads 2 --dtype int8 --output-format all)
mkdir -p "$tmp/ref" "$tmp/out"
t0=$(date +%s%N)
# shellcheck disable=SC2086
"$cli" transcribe "${args[@]}" --output-dir "$tmp/ref" $files 2>"$tmp/err" || bad "reference run: $(cat "$tmp/err")"
[ "$(ls "$tmp/ref" | wc -l)" -eq $((5 * n)) ] && ok || bad "reference: $(ls "$tmp/ref" | wc -l) outputs, not $((5 * n))"
# kill times: uniform in [0.2 s, a fifth of the whole run], in ms
span=$(( ($(date +%s%N) - t0) / 5000000 ))
[ "$span" -gt 300 ] || span=300

# Every output present in out/ equals the reference's; prints how many.
check_outputs() {
  local n=0 f
  for f in "$tmp"/out/*; do
    [ -e "$f" ] || continue
    case $f in *.tmp.??????) continue ;; esac
    cmp -s "$f" "$tmp/ref/$(basename "$f")" || bad "$1: $(basename "$f") differs from the uninterrupted run"
    n=$((n + 1))
  done
  echo "$n"
}
temps() { ls "$tmp/out" | grep -c '\.tmp\.......$'; }

for round in "${!sigs[@]}"; do
  sig=${sigs[$round]}
  # shellcheck disable=SC2086
  "$cli" transcribe "${args[@]}" --skip-existing --output-dir "$tmp/out" $files >/dev/null 2>"$tmp/err.$round" &
  pid=$!
  # inside the model load, a file, or a write
  ms=$((200 + RANDOM % span))
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
  kill -"$sig" "$pid" 2>/dev/null
  { wait "$pid"; } 2>/dev/null
  rc=$?
  have=$(check_outputs "round $round ($sig)")
  case $sig in
    INT | TERM)
      want=$([ "$sig" = INT ] && echo 130 || echo 143)
      if [ "$rc" -eq 0 ]; then ok # finished before the signal
      elif [ "$rc" -eq "$want" ] && [ "$(grep -c '^cwhisper: stopped by SIG' "$tmp/err.$round")" -eq 1 ] &&
           [ "$(temps)" -eq 0 ]; then ok
      else bad "round $round: SIG$sig: exit $rc (want $want), $(temps) temporary files: $(tail -n 2 "$tmp/err.$round")"; fi ;;
    KILL) [ "$rc" -eq 137 ] || [ "$rc" -eq 0 ] && ok || bad "round $round: SIGKILL: exit $rc" ;;
  esac
  echo "round $round: SIG$sig at ${ms} ms, exit $rc, $have outputs complete, $(temps) temporary"
done

# What a SIGKILL during a write leaves (NAME.tmp.XXXXXX) must be neither taken
# for an output nor left behind: one beside an unfinished file's output and
# one beside a finished file's.
for f in $files; do
  stem=$(basename "$f" .flac)
  if [ -e "$tmp/out/$stem.json" ]; then done_stem=$stem; else todo_stem=$stem; fi
done
[ -n "${todo_stem:-}" ] && echo half >"$tmp/out/$todo_stem.txt.tmp.AbC123"
[ -n "${done_stem:-}" ] && echo half >"$tmp/out/$done_stem.srt.tmp.XyZ789"

# The last run finishes: skips what is done (without rewriting it), redoes the rest.
stat -c '%n %i %Y' "$tmp"/out/* | grep -v '\.tmp\.' | sort >"$tmp/before"
done_stems=$(ls "$tmp/out" | grep -v '\.tmp\.' | sed 's/\.[a-z]*$//' | sort | uniq -c | awk '$1 == 5 { print $2 }')
# shellcheck disable=SC2086
"$cli" transcribe "${args[@]}" --skip-existing --output-dir "$tmp/out" $files >/dev/null 2>"$tmp/err" ||
  bad "final run: $(cat "$tmp/err")"
skipped=$(grep -c ': skipped, its outputs exist$' "$tmp/err")
[ "$skipped" -eq "$(echo "$done_stems" | grep -c .)" ] && ok || bad "final run skipped $skipped files, $(echo "$done_stems" | grep -c .) were done"
stat -c '%n %i %Y' "$tmp"/out/* | sort >"$tmp/after"
for stem in $done_stems; do
  for ext in txt srt vtt json tsv; do
    line=$(grep -F "/$stem.$ext " "$tmp/before")
    grep -qxF -- "$line" "$tmp/after" || bad "$stem.$ext was rewritten although its file was done"
  done
done
[ "$(check_outputs final)" -eq $((5 * n)) ] && ok || bad "final: not $((5 * n)) outputs: $(ls "$tmp/out" | wc -l)"
[ "$(temps)" -eq 0 ] && ok || bad "final: temporary files left: $(ls "$tmp/out" | grep tmp)"
echo "$(echo "$done_stems" | grep -c .) of $n files were done before the last run"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
