"""nnlint's Python package: it only carries the `nnlint` binary (see `find_nnlint_bin`)."""

from nnlint._find import find_nnlint_bin

__all__ = ["find_nnlint_bin"]
