"""Locates the `nnlint` executable that pip installed beside this package."""

from __future__ import annotations

import os
import sys
import sysconfig


def _script_dirs() -> list[str]:
    """Folders pip may have put the binary in, most likely first."""
    dirs = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        dirs.append(sysconfig.get_path("scripts", scheme=user_scheme))
    # `pip install --target DIR`: the package sits in DIR and the binary in DIR/bin.
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs.append(os.path.join(here, "bin"))
    dirs.append(os.path.dirname(sys.executable))
    return [d for d in dirs if d]


def find_nnlint_bin() -> str:
    """The path of the `nnlint` binary shipped with this package."""
    name = "nnlint" + (sysconfig.get_config_var("EXE") or "")
    for folder in _script_dirs():
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        f"the nnlint binary was not found in {', '.join(_script_dirs())}; reinstall with pip"
    )
