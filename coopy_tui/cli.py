"""`coopy-tui CONFIG`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("coopy-tui: not built yet", file=sys.stderr)
    return 2
