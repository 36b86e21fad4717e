#!/bin/bash
# bench/gpu/cpu_kernels.sh: the CPU back end's unit tests on a machine without
# CMake or FFmpeg (the lent GPU machine has gcc, nvcc and python, no network).
#
# Why: the dev machines lack AVX-512 and AMX; the GPU machine's host CPU may
# have them, so its first device call (bench/gpu/run.sh) runs this once to test
# the AVX-512 / low-precision kernels against the reference kernels there.
#
# What: compiles with plain $CC (gcc) the CPU back end (src/backend/*.c,
# src/backend/cpu/*.c: a glob, so new kernel files are picked up) and
# src/util/*.c (none needs an outside library), then each test of TESTS that
# exists (tests/unit/test_NAME.c + tests/test.c). A test that needs more of
# the library (test_lowp: model, nn, api) is linked against the rest of src/
# minus the files that include FFmpeg headers (and zlib's, where zlib.h is
# missing); the functions those files define are replaced by stubs that abort
# with their name, so a test that reaches one fails loudly instead of silently.
# Flags as CMake's Release build: -std=c11 -O3 -DNDEBUG -Wall -Wextra -D_GNU_SOURCE.
#
# Prints the CPU model, its avx512* / amx* flags, the compiler version, and one
# line per test: "cpu_kernels: PASS|FAIL|SKIP test_NAME (...)". Exit status 0
# when every test that exists passed. Log: $OUT/cpu-kernels.log when OUT is set.
#
# Environment: CC (gcc), TESTS (default "backend_ops cpu_features lowp"),
# CWK_BUILD (default /tmp/cwg-cpu-kernels), TEST_TIMEOUT_S (60 per test),
# JOBS (nproc).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
T0=$(date +%s)
CC=${CC:-gcc}
TESTS=${TESTS:-backend_ops cpu_features lowp}
B=${CWK_BUILD:-/tmp/cwg-cpu-kernels}
JOBS=${JOBS:-$(nproc)}
TEST_TIMEOUT_S=${TEST_TIMEOUT_S:-60}
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  exec > >(tee "$OUT/cpu-kernels.log") 2>&1
  TEE_PID=$!
  trap 'exec 1>&- 2>&-; wait $TEE_PID 2>/dev/null' EXIT
fi
say() { echo "cpu_kernels [$(( $(date +%s) - T0 ))s] $*"; }

# --- the machine ------------------------------------------------------------
say "host $(hostname), $(nproc) CPUs, $(uname -r)"
say "CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2-)
sel() { for f in $FLAGS; do case $f in $1) printf '%s ' "$f" ;; esac; done; }
say "flags avx512*: $(sel 'avx512*')"
say "flags amx*: $(sel 'amx*')"
say "flags other: $(sel 'avx2'; sel 'fma'; sel 'f16c'; sel 'avx_vnni'; sel 'avx_vnni_int8'; sel 'avx_ne_convert')"
say "compiler: $($CC --version 2>&1 | head -1)"

CFLAGS="-std=c11 -O3 -DNDEBUG -Wall -Wextra -D_GNU_SOURCE -Iinclude -Isrc -Itests"
LIBS="-lm -lpthread"
rm -rf "$B"
mkdir -p "$B/obj" "$B/bin"
obj_of() { echo "$B/obj/$(echo "${1%.c}" | tr / _).o"; }

# compile FILE...: in parallel, warnings kept in $B/cc.log; prints the failures
compile() {
  printf '%s\n' "$@" | xargs -P "$JOBS" -I{} sh -c \
    'o="$0/obj/$(echo "${1%.c}" | tr / _).o"; $2 $3 -c "$1" -o "$o" 2>"$o.log" || echo "compile failed: $1"' \
    "$B" {} "$CC" "$CFLAGS"
  cat "$B"/obj/*.log > "$B/cc.log" 2>/dev/null
}

# --- tier 1: the CPU back end and util ----------------------------------------
CORE=$(echo $(ls src/backend/*.c src/backend/cpu/*.c src/util/*.c 2>/dev/null))   # one line
say "compiling $(echo $CORE | wc -w) files: $(echo $CORE | sed 's|src/||g')"
compile $CORE
CORE_OBJ=""
for f in $CORE; do CORE_OBJ="$CORE_OBJ $(obj_of "$f")"; done
nwarn=$(grep -c 'warning:' "$B/cc.log")
say "back end compiled ($nwarn warnings)"
[ "$nwarn" -gt 0 ] && grep 'warning:' "$B/cc.log" | head -5 | sed 's/^/  /'
$CC $CFLAGS -c tests/test.c -o "$B/obj/tests_test.o" || say "tests/test.c did not compile"

# --- tier 2, made on demand: the rest of src/ without FFmpeg (and zlib if absent)
REST_OBJ=""
rest_ready=""
make_rest() {
  [ -n "$rest_ready" ] && return 0
  rest_ready=1
  local zlib_ok="" excl="" f files=""
  echo '#include <zlib.h>' | $CC -E -x c - >/dev/null 2>&1 && zlib_ok=1
  for f in $(find src -name '*.c' | sort); do
    case " $CORE " in *" $f "*) continue ;; esac
    if grep -qE '#include *<lib(av|sw)' "$f" || { [ -z "$zlib_ok" ] && grep -q '#include *<zlib.h>' "$f"; }; then
      excl="$excl $f"
    else
      files="$files $f"
    fi
  done
  local why="FFmpeg"; [ -z "$zlib_ok" ] && why="FFmpeg / no zlib.h"
  say "the rest of src/: $(echo $files | wc -w) files; left out ($why):$excl"
  compile $files
  for f in $files; do [ -f "$(obj_of "$f")" ] && REST_OBJ="$REST_OBJ $(obj_of "$f")"; done
  [ -n "$zlib_ok" ] && LIBS="$LIBS -lz"
}

# link NAME: the test against tier 1, else tier 1 + 2 + stubs for what is still missing
link() {
  local t=$1 exe="$B/bin/$1" undef
  [ -f "$B/obj/$t.o" ] || return 1
  $CC -o "$exe" "$B/obj/$t.o" "$B/obj/tests_test.o" $CORE_OBJ $LIBS 2> "$B/$t.link.log" && return 0
  make_rest
  $CC -o "$exe" "$B/obj/$t.o" "$B/obj/tests_test.o" $CORE_OBJ $REST_OBJ $LIBS 2> "$B/$t.link.log" && return 0
  undef=$(grep -o "undefined reference to \`[A-Za-z_0-9]*'" "$B/$t.link.log" | sed "s/.*\`//; s/'//" | sort -u)
  [ -n "$undef" ] || return 1
  say "$t: stubs (abort if called) for: $(echo $undef)"
  { echo '#include <stdio.h>'; echo '#include <stdlib.h>'
    for s in $undef; do
      echo "void $s(void); void $s(void) { fprintf(stderr, \"cpu_kernels stub: $s (not built here)\\n\"); abort(); }"
    done; } > "$B/$t.stubs.c"
  $CC -O1 -w -c "$B/$t.stubs.c" -o "$B/$t.stubs.o" &&
    $CC -o "$exe" "$B/obj/$t.o" "$B/obj/tests_test.o" $CORE_OBJ $REST_OBJ "$B/$t.stubs.o" $LIBS \
      2> "$B/$t.link.log"
}

# --- the tests --------------------------------------------------------------------
export CW_SOURCE_DIR="$ROOT" CW_SHARED_DIR="${CW_SHARED_DIR:-$ROOT/../shared}" \
  CW_FIXTURES_DIR="$ROOT/tests/fixtures" CW_BINARY_DIR="$B"
if [ -z "${CW_MODELS_DIR:-}" ]; then
  CW_MODELS_DIR="$ROOT/models"
  [ -d "$CW_MODELS_DIR/tiny.en" ] || [ ! -d /tmp/cwg-work/models/tiny.en ] || CW_MODELS_DIR=/tmp/cwg-work/models
fi
export CW_MODELS_DIR
present=""
for t in $TESTS; do
  if [ -f "tests/unit/test_$t.c" ]; then present="$present tests/unit/test_$t.c"
  else echo "cpu_kernels: SKIP test_$t (tests/unit/test_$t.c is not in this tree)"; fi
done
compile $present
fails=0; summary=""
for src in $present; do
  t=$(basename "$src" .c)
  mv -f "$(obj_of "$src")" "$B/obj/$t.o" 2>/dev/null
  if ! link "$t"; then
    line="FAIL $t (did not compile/link: $(cat "$(obj_of "$src").log" "$B/$t.link.log" 2>/dev/null | grep -m1 -E 'error:|undefined reference|multiple definition' | head -c 240))"
    fails=$((fails + 1))
  else
    t1=$(date +%s)
    timeout -k 5 "$TEST_TIMEOUT_S" "$B/bin/$t" > "$B/$t.out" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t1 ))
    echo "----- $t (exit $rc, ${dt}s)"
    cat "$B/$t.out"
    res=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$B/$t.out" | tail -1)
    skipped=$(grep -c -i 'skip' "$B/$t.out")
    note=""; [ "$skipped" -gt 0 ] && note=", $skipped lines mention skip"
    if [ $rc -eq 0 ]; then line="PASS $t ($res, ${dt}s$note)"
    else
      [ $rc -eq 124 ] || [ $rc -eq 137 ] && res="timeout ${TEST_TIMEOUT_S}s"
      line="FAIL $t (exit $rc: ${res:-no summary}; $(grep -m1 -E '^FAIL|stub' "$B/$t.out" | head -c 200))"
      fails=$((fails + 1))
    fi
  fi
  summary="$summary
cpu_kernels: $line"
done
echo "-----"
say "CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); avx512: $(sel 'avx512*' | wc -w) flags; amx: $(sel 'amx*')"
echo "${summary#?}"
say "done: $fails failed"
[ "$fails" -eq 0 ]
