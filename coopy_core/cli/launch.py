"""The `coopy` command's entry point: Ctrl-C at any moment of start-up ends it with exit 130 and one line.

Python turns SIGINT into KeyboardInterrupt, which, raised while modules load or the engine starts, prints a
traceback and exits -2. So the first thing `coopy` does (before anything heavy is imported) is to take SIGINT
over (guard.py): until `coopy run` installs its own handler on the event loop, a Ctrl-C ends the process at
once with "coopy: interrupted" and 130. Whatever had been started goes on and is adopted by the next start, as
after any Ctrl-C. Only the interpreter's own start, before this module runs (a few tens of milliseconds), is
Python's.
"""

from __future__ import annotations

import sys

from coopy_core.cli.guard import EXIT_INTERRUPTED, Interrupted, guarded

__all__ = ["EXIT_INTERRUPTED", "Interrupted", "guarded", "main"]


def main(prog: str = "coopy") -> int:
    def command() -> int:
        from coopy_core.cli.main import main as cli_main

        return cli_main(prog=prog)

    return guarded(prog, command)


if __name__ == "__main__":
    sys.exit(main())
