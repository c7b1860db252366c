"""`python -m coopy_tui CONFIG`, the same as `coopy-tui CONFIG`."""

import sys

from coopy_tui.cli import main

sys.exit(main())
