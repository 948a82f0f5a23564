"""`python -m nnlint ...` runs the installed binary with the same arguments and exit code."""

from __future__ import annotations

import os
import subprocess
import sys

from nnlint._find import find_nnlint_bin


def main() -> int:
    binary = find_nnlint_bin()
    args = [binary, *sys.argv[1:]]
    if sys.platform == "win32":
        return subprocess.run(args).returncode
    os.execv(binary, args)
    return 2  # not reached: execv replaces the process


if __name__ == "__main__":
    sys.exit(main())
