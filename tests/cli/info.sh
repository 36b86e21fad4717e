#!/usr/bin/env bash
# `cwhisper info`: describes a real model; bad model directories give one
# clear line on stderr naming the file, a non-zero exit, and no crash.
set -u
cli=${CW_CLI:?run through ctest}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect_error NAME PATTERN ARGS...: exit 1, exactly one stderr line matching PATTERN.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  "$cli" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -ne 1 ]; then bad "$name: exit $rc, expected 1 ($(head -c 300 "$tmp/err"))"
  elif [ "$lines" -ne 1 ]; then bad "$name: $lines lines on stderr: $(cat "$tmp/err")"
  elif ! grep -q -- "$pattern" "$tmp/err"; then bad "$name: '$(cat "$tmp/err")' lacks '$pattern'"
  else ok; fi
}

models=${CW_MODELS_DIR:?}
if [ -f "$models/tiny.en/model.bin" ]; then
  if "$cli" info "$models/tiny.en" >"$tmp/info" 2>&1 &&
     grep -q "English-only" "$tmp/info" && grep -q "n_audio_state 384" "$tmp/info" &&
     grep -q "eot 50256, sot 50257" "$tmp/info"; then ok; else bad "info tiny.en: $(cat "$tmp/info")"; fi
else
  [ -n "${CI:-}" ] && bad "models/tiny.en is missing" || echo "skipped: no model"
fi

mkdir -p "$tmp/empty"
expect_error "no model.bin" "model.bin" info "$tmp/empty"
expect_error "missing directory" "no such model directory" info "$tmp/nope/x"

mkdir -p "$tmp/trunc"
if [ -f "$models/tiny.en/model.bin" ]; then
  head -c 1000000 "$models/tiny.en/model.bin" >"$tmp/trunc/model.bin"
  cp "$models/tiny.en/config.json" "$models/tiny.en/vocabulary.txt" "$tmp/trunc/"
  expect_error "truncated model.bin" "model.bin" info "$tmp/trunc"
  mkdir -p "$tmp/badcfg"
  ln -s "$models/tiny.en/model.bin" "$tmp/badcfg/model.bin"
  cp "$models/tiny.en/vocabulary.txt" "$tmp/badcfg/"
  echo "{not json" >"$tmp/badcfg/config.json"
  expect_error "config.json not JSON" "config.json" info "$tmp/badcfg"
fi
head -c 4096 /dev/urandom >"$tmp/empty/model.bin"
expect_error "random model.bin" "model.bin" info "$tmp/empty"

"$cli" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown command should exit 2"
"$cli" info >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "info without a model should exit 2"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
