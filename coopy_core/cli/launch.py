"""The `coopy` command's entry point: Ctrl-C at any moment of start-up ends it with exit 130 and one line.

Python turns SIGINT into KeyboardInterrupt, which, raised while modules load or the engine starts, prints a
traceback and exits -2. So the first thing `coopy` does (before anything heavy is imported) is to take SIGINT
over (guard.py): until `coopy run` installs its own handler on the event loop, a Ctrl-C ends the process at
once with "coopy: interrupted" and 130. Whatever had been started goes on and is adopted by the next start, as
after any Ctrl-C. Only the interpreter's own start, before this module runs (a few tens of milliseconds), is
Python's. Importing this module holds Ctrl-C back until `main()` runs: it is an entry point, nothing else.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the builtin under `signal`: loaded with the interpreter

# A Ctrl-C waits from here until `guarded` has taken it over (and lets it through): one landing while the guard
# loads ends as "interrupted", not as a traceback from inside an import.
_signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})

import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import NoReturn  # noqa: E402

from coopy_core.cli.fast_exit import exit_now  # noqa: E402
from coopy_core.cli.guard import guarded  # noqa: E402

__all__ = ["main"]  # the guard's names are imported from `guard`: importing this module holds Ctrl-C back


def main(prog: str = "coopy") -> NoReturn:
    """Runs the command and exits the process (`fast_exit`): an entry point, never called from inside a program."""

    def load() -> Callable[[], int]:
        from coopy_core.cli.main import main as cli_main

        return lambda: cli_main(prog=prog)

    exit_now(guarded(prog, load))


if __name__ == "__main__":
    sys.exit(main())
