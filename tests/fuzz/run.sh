#!/usr/bin/env bash
# Runs every built fuzzer for SECONDS (default 600) each, one after another,
# with its corpus in tests/fuzz/corpus-NAME/ (seeded from tests/fuzz/seeds/NAME/
# when present). Prints executions and crashes per target; exits 1 on a crash.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-600}
status=0
for bin in "$root"/build-fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus=$root/tests/fuzz/corpus-$name
  mkdir -p "$corpus"
  seeds=$root/tests/fuzz/seeds/$name
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
  log=$root/build-fuzz/$name.log
  (cd "$root/build-fuzz" && "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 \
      -print_final_stats=1 "$corpus" >"$log" 2>&1)
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  crashes=$(ls "$root"/build-fuzz/crash-* "$root"/build-fuzz/leak-* "$root"/build-fuzz/timeout-* 2>/dev/null | wc -l)
  echo "$name: ${execs:-?} executions in ${secs}s, exit $rc, $crashes crash/leak/timeout files in build-fuzz/"
  [ "$rc" -eq 0 ] || { status=1; tail -n 30 "$log"; }
done
exit $status
