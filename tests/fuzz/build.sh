#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer binary (clang) against all of
# src/**/*.c (and, for fuzz_cli, cli/*.c but main.c and cmd_serve.c), with AddressSanitizer and
# UBSan, into build-fuzz/. Objects are reused until their source or any header
# changes; JOBS (default: nproc) compiles in parallel; FUZZ_TARGETS="a b" links
# only those targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-fuzz
mkdir -p "$out/obj"
export CC=${CC:-clang}
export FUZZ_FLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -I$root/include -I$root/src -I$root/cli $(pkg-config --cflags libavformat)"
libs="$(pkg-config --libs libavformat libavcodec libswresample libavutil) -lz -lm -lpthread"
stamp=$out/obj/.headers
# A changed header (a struct's layout) invalidates every object.
if [ ! -f "$stamp" ] || [ -n "$(find "$root/src" "$root/include" "$root/cli" -name '*.h' -newer "$stamp" | head -n 1)" ]; then
  rm -f "$out"/obj/*.o
fi
obj_of() { echo "$out/obj/$(echo "${1#$root/}" | tr '/' '_').o"; }
srcs=$(find "$root/src" -name '*.c' | sort)
# the program's own files but main.c and the server (which needs libmicrohttpd)
clis=$(find "$root/cli" -maxdepth 1 -name '*.c' ! -name main.c ! -name cmd_serve.c | sort)
todo=()
for src in $srcs $clis; do
  obj=$(obj_of "$src")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then todo+=("$src" "$obj"); fi
done
if [ ${#todo[@]} -gt 0 ]; then
  # shellcheck disable=SC2016
  printf '%s\n' "${todo[@]}" | xargs -n 2 -P "${JOBS:-$(nproc)}" sh -c '$CC $FUZZ_FLAGS -c "$0" -o "$1"'
fi
touch "$stamp"
objs=""
for src in $srcs; do objs="$objs $(obj_of "$src")"; done
cliobjs=""
for src in $clis; do cliobjs="$cliobjs $(obj_of "$src")"; done
for t in "$root"/tests/fuzz/fuzz_*.c; do
  name=$(basename "$t" .c)
  # FUZZ_TARGETS="fuzz_audio ...": link only those
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  extra=""
  [ "$name" = fuzz_cli ] && extra=$cliobjs
  # shellcheck disable=SC2086
  $CC $FUZZ_FLAGS -fsanitize=fuzzer "$t" $objs $extra $libs -o "$out/$name"
  echo "built $out/$name"
done
