#!/usr/bin/env bash
# Runs every built fuzzer for SECONDS (default 600) each, one after another,
# with its corpus in tests/fuzz/corpus-NAME/ (seeded from the committed
# tests/fuzz/seeds/NAME/ when present; git ignores the corpora). Prints
# executions, coverage and findings per target; exits 1 if any target found a
# crash, a leak or a timeout (its input is kept as build-fuzz/NAME-crash-*,
# -leak-*, -timeout-*, its log as build-fuzz/NAME.log).
# FUZZ_TARGETS="fuzz_audio fuzz_cli" limits the run to those targets.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-600}
status=0
for bin in "$root"/build-fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  corpus=$root/tests/fuzz/corpus-$name
  mkdir -p "$corpus"
  seeds=$root/tests/fuzz/seeds/$name
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
  log=$root/build-fuzz/$name.log
  rm -f "$root/build-fuzz/$name"-{crash,leak,timeout,oom}-*
  # -close_fd_mask=3: the targets' own output (the CLI parser's refusals) is
  # dropped; libFuzzer and the sanitizers still report on a copy of stderr.
  (cd "$root/build-fuzz" && "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -timeout=20 \
      -close_fd_mask=3 -artifact_prefix="$root/build-fuzz/$name-" -print_final_stats=1 "$corpus" >"$log" 2>&1)
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
  found=$(ls "$root/build-fuzz/$name"-{crash,leak,timeout,oom}-* 2>/dev/null | wc -l)
  echo "$name: ${execs:-?} executions in ${secs} s, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) files, exit $rc, $found crash/leak/timeout/oom inputs"
  [ "$rc" -eq 0 ] || { status=1; tail -n 40 "$log"; }
done
exit $status
