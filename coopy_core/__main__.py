"""`python -m coopy_core ...`, the same as `coopy ...` (Ctrl-C at start-up included: see launch)."""

import sys

from coopy_core.cli.launch import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m coopy_core"))
