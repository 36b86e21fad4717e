#!/usr/bin/env bash
# CTest test "install": `cmake --install` of the build into a temporary
# prefix (what `make install PREFIX=...` runs), then examples/transcribe.c
# built against that copy twice, with `pkg-config --cflags --libs cwhisper`
# only and with find_package(cwhisper), and run on jfk.
set -u
src=${CW_SOURCE_DIR:?run through ctest}
bin=${CW_BINARY_DIR:?}
models=${CW_MODELS_DIR:?}
jfk=${CW_SHARED_DIR:?}/speech/english-fixtures/audio/jfk.flac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
prefix=$tmp/prefix

if ! cmake --install "$bin" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2; echo "FAIL: cmake --install"; exit 1
fi
libdir=$(dirname "$(find "$prefix" -name cwhisper.pc)")/..
for f in bin/cwhisper include/cwhisper.h; do [ -f "$prefix/$f" ] && ok || bad "$f not installed"; done
for f in libcwhisper.a libcwhisper.so pkgconfig/cwhisper.pc cmake/cwhisper/cwhisperConfig.cmake \
         cmake/cwhisper/cwhisperConfigVersion.cmake cmake/cwhisper/cwhisperTargets.cmake; do
  [ -e "$libdir/$f" ] && ok || bad "lib/$f not installed"
done
v=$("$prefix/bin/cwhisper" version 2>&1)
echo "$v" | grep -q "$(sed -n 's/^#define CW_VERSION_STRING "\(.*\)"/\1/p' "$src/include/cwhisper.h")" && ok ||
  bad "installed program: '$v'"

# The example against the installed copy, through pkg-config alone.
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs cwhisper) || { bad "pkg-config cwhisper"; flags=; }
case "$flags" in *"$prefix"*) ok ;; *) bad "pkg-config flags do not point into the prefix: $flags" ;; esac
# shellcheck disable=SC2086
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror "$src/examples/transcribe.c" $flags -o "$tmp/ex-pc" 2>"$tmp/cc.log"; then ok
else bad "pkg-config build: $(cat "$tmp/cc.log")"; fi

# The same with find_package(cwhisper) and the imported target.
mkdir -p "$tmp/cm"
cat >"$tmp/cm/CMakeLists.txt" <<EOC
cmake_minimum_required(VERSION 3.20)
project(use_cwhisper C)
find_package(cwhisper 0.1 REQUIRED)
add_executable(ex-cmake $src/examples/transcribe.c)
target_link_libraries(ex-cmake PRIVATE cwhisper::cwhisper)
EOC
if cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cm.log" 2>&1 &&
   cmake --build "$tmp/cm/build" >>"$tmp/cm.log" 2>&1; then ok
else bad "find_package build: $(tail -5 "$tmp/cm.log")"; fi

run_example() {  # run_example BINARY LABEL: transcribes jfk with the installed library
  local exe=$1 label=$2
  [ -x "$exe" ] || return
  if [ ! -f "$models/tiny.en/model.bin" ]; then
    [ -n "${CI:-}" ] && bad "models/tiny.en is missing"
    return
  fi
  # The run must load the installed libcwhisper.so, not the build's.
  LD_LIBRARY_PATH=$libdir ldd "$exe" | grep -q "$prefix.*libcwhisper.so" || bad "$label: not linked to the installed library"
  out=$(LD_LIBRARY_PATH=$libdir "$exe" "$models/tiny.en" "$jfk" 2>&1)
  if echo "$out" | grep -q "\[    0.00 ->" && echo "$out" | grep -q "ask not what your country"; then ok
  else bad "$label: $out"; fi
}
run_example "$tmp/ex-pc" pkg-config
run_example "$tmp/cm/build/ex-cmake" find_package

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
