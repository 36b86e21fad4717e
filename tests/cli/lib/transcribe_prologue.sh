# Sourced by the tests/cli/*.sh scripts that run `cwhisper transcribe` with
# tiny.en: the environment CTest sets, a temporary directory, pass/fail
# counters, the model check (missing in CI is a failure, elsewhere a skip),
# and the one helper they all use to check a refused command line.
# (It lives in lib/ so that CTest's cli/*.sh glob does not run it as a test.)
cli=${CW_CLI:?run through ctest}
models=${CW_MODELS_DIR:?}
speech=${CW_SHARED_DIR:?}/speech
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

if [ ! -f "$models/tiny.en/model.bin" ]; then
  if [ -n "${CI:-}" ]; then echo "FAIL: models/tiny.en is missing"; exit 1; fi
  echo "skipped: no model"; echo "0 passed, 0 failed"; exit 0
fi
m=(--model "$models/tiny.en" --threads 2)
jfk=$speech/english-fixtures/audio/jfk.flac

# refused RC NAME PATTERN ARGS...: `cwhisper transcribe ARGS` exits with RC
# ("nonzero": any failure), prints one stderr line matching PATTERN, and
# nothing on stdout.
refused() {
  local want=$1 name=$2 pattern=$3
  shift 3
  "$cli" transcribe "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$want" = nonzero ] && [ "$rc" -eq 0 ]; then bad "$name: exit 0"
  elif [ "$want" != nonzero ] && [ "$rc" -ne "$want" ]; then bad "$name: exit $rc, not $want"
  elif [ "$(wc -l <"$tmp/err")" -ne 1 ]; then bad "$name: stderr is not one line: $(cat "$tmp/err")"
  elif ! grep -qi -- "$pattern" "$tmp/err"; then bad "$name: '$(cat "$tmp/err")' lacks '$pattern'"
  elif [ -s "$tmp/out" ]; then bad "$name: wrote to stdout"
  else ok; fi
}
