"""`python -m coopy_core ...`, the same as `coopy ...`."""

import sys

from coopy_core.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m coopy_core"))
