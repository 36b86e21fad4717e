#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer binary (clang) against all of
# src/**/*.c, with AddressSanitizer and UBSan, into build-fuzz/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-fuzz
mkdir -p "$out/obj"
CC=${CC:-clang}
flags="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -I$root/include -I$root/src"
libs="$(pkg-config --libs libavformat libavcodec libswresample libavutil) -lz -lm -lpthread"
objs=""
while IFS= read -r src; do
  obj=$out/obj/$(echo "${src#$root/src/}" | tr '/' '_').o
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
    # shellcheck disable=SC2086
    $CC $flags $(pkg-config --cflags libavformat) -c "$src" -o "$obj"
  fi
  objs="$objs $obj"
done < <(find "$root/src" -name '*.c' | sort)
for t in "$root"/tests/fuzz/fuzz_*.c; do
  name=$(basename "$t" .c)
  # shellcheck disable=SC2086
  $CC $flags -fsanitize=fuzzer "$t" $objs $libs -o "$out/$name"
  echo "built $out/$name"
done
