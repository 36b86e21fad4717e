#!/usr/bin/env bash
# examples/transcribe (public header only, shared library) transcribes jfk.
set -u
ex=${CW_BINARY_DIR:?}/examples/transcribe
models=${CW_MODELS_DIR:?}
if [ ! -f "$models/tiny.en/model.bin" ]; then
  [ -n "${CI:-}" ] && { echo "FAIL: models/tiny.en is missing"; exit 1; }
  echo "skipped: no model"; exit 0
fi
out=$("$ex" "$models/tiny.en" "$CW_SHARED_DIR/speech/english-fixtures/audio/jfk.flac" 2>&1)
if echo "$out" | grep -q "\[    0.00 ->" && echo "$out" | grep -q "ask not what your country"; then
  echo "1 passed, 0 failed"
else
  echo "FAIL: $out"; echo "0 passed, 1 failed"; exit 1
fi
