"""Model names to directories, as the `cwhisper` program resolves them
(cli/model_path.c): an existing directory is used as is; a name (tiny.en,
base, ...) is looked up in $CWHISPER_MODELS, else in the checkout's models/
folder the package was built from, else in ~/.cache/cwhisper/models, and
fetched there with scripts/fetch-model (bundled in the package) on first use.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from . import _build_info

_PLAIN = re.compile(r"^[a-z0-9.\-]+$")


def models_dir() -> Path:
    """The folder model names are looked up in (and fetched into)."""
    env = os.environ.get("CWHISPER_MODELS")
    if env:
        return Path(env)
    src = Path(_build_info.SOURCE_DIR)
    if (src / "include" / "cwhisper.h").is_file():
        return src / "models"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cwhisper" / "models"


def _fetcher() -> Path:
    return Path(__file__).resolve().parent / "scripts" / "fetch-model"


def resolve_model(model: "str | os.PathLike[str]") -> str:
    """Returns the directory of `model` (a model directory or a name such as
    "tiny.en" or "base"), fetching a named model on first use.

    Raises FileNotFoundError when it is neither a directory nor a name that
    can be fetched."""
    arg = os.fspath(model)
    if os.path.isdir(arg):
        return arg
    if not _PLAIN.match(arg):
        raise FileNotFoundError(f"{arg}: no such model directory")
    path = models_dir() / arg
    if path.is_dir():  # fetched (has .complete) or placed by hand
        return str(path)
    script = _fetcher()
    if not script.is_file():
        raise FileNotFoundError(f"model '{arg}' is not in {models_dir()} and the package has no fetch-model script")
    env = dict(os.environ, PYTHON=sys.executable)
    # fetch-model reports on stderr; its stdout goes there too (fd 2), not into the caller's output.
    p = subprocess.run(["bash", str(script), arg, str(path)], env=env, stdout=2)
    if p.returncode != 0 or not path.is_dir():
        raise FileNotFoundError(f"model '{arg}' is not in {models_dir()} and could not be fetched "
                                f"(fetch-model exit status {p.returncode})")
    return str(path)
