#!/usr/bin/env bash
# CTest test "python": the Python package's pytest suite (python/tests) in a
# virtual environment at $CW_BINARY_DIR/python-venv. The venv is made once
# (scikit-build-core, pytest and numpy from PyPI); the package is reinstalled
# (`pip install python/`, which builds the C library and the extension, here
# incrementally in $CW_BINARY_DIR/python-ext) only when python/, src/,
# include/, scripts/ or a CMake file changed since the last install.
set -euo pipefail
src=${CW_SOURCE_DIR:?run through ctest}
bin=${CW_BINARY_DIR:?}
venv=$bin/python-venv
py=${PYTHON:-python3}
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)

if ! "$venv/bin/python" -c "import pytest, numpy, scikit_build_core" 2>/dev/null; then
  rm -rf "$venv"
  if ! { "$py" -m venv "$venv" && "${pip[@]}" install scikit-build-core pytest numpy; } >"$bin/python-venv.log" 2>&1; then
    cat "$bin/python-venv.log" >&2
    # Elsewhere than CI, no PyPI (offline) is a skip, as a missing model is.
    [ -n "${CI:-}" ] && { echo "FAIL: could not make the test venv"; exit 1; }
    echo "skipped: could not install scikit-build-core, pytest, numpy into $venv"; exit 0
  fi
fi

stamp=$venv/.cwhisper-installed
changed=
if [ -f "$stamp" ]; then
  changed=$(find "$src/python" "$src/src" "$src/include" "$src/scripts" "$src/CMakeLists.txt" "$src/cmake" \
                 -newer "$stamp" -type f -not -path "$src/python/tests/*" -not -name '*.pyc' -print -quit 2>/dev/null || true)
fi
if [ ! -f "$stamp" ] || [ -n "$changed" ] || ! "$venv/bin/python" -c "import cwhisper" 2>/dev/null; then
  touch "$stamp.new"
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} "${pip[@]}" install --no-build-isolation --no-deps \
    --force-reinstall -C build-dir="$bin/python-ext" "$src/python"
  mv "$stamp.new" "$stamp"
fi

# From the build folder, so that `import cwhisper` is the installed package.
cd "$bin"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$src/python/tests" "$@"
