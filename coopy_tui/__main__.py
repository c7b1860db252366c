"""`python -m coopy_tui CONFIG`, the same as `coopy-tui CONFIG`."""

import sys

from coopy_tui.launch import main

sys.exit(main())
