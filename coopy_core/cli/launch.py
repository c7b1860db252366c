"""The `coopy` command's entry point: Ctrl-C at any moment of start-up ends it with exit 130 and one line.

Python turns SIGINT into KeyboardInterrupt, which, raised while modules load or the engine starts, prints a
traceback and exits -2. So the first thing `coopy` does (before anything heavy is imported) is to take SIGINT
over: until `coopy run` installs its own handler on the event loop, a Ctrl-C ends the process at once with
"coopy: interrupted" and 130. Whatever had been started goes on and is adopted by the next start, as after any
Ctrl-C. Only the interpreter's own start, before this module runs (a few tens of milliseconds), is Python's.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

EXIT_INTERRUPTED = 130


class Interrupted(SystemExit):
    """Ctrl-C before the command's own handling took over: unwinds like sys.exit (quietly, no traceback)."""


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(EXIT_INTERRUPTED)


def guarded(prog: str, command: Callable[[], int]) -> int:
    """Run `command` (which imports what it needs) with SIGINT taken over until it installs its own handling."""
    signal.signal(signal.SIGINT, _interrupted)
    try:
        return command()
    except Interrupted:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while saying so changes nothing
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main(prog: str = "coopy") -> int:
    def command() -> int:
        from coopy_core.cli.main import main as cli_main

        return cli_main(prog=prog)

    return guarded(prog, command)


if __name__ == "__main__":
    sys.exit(main())
