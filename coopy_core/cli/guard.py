"""Ctrl-C before a command's own handling takes over: exit 130 with one line, never a traceback.

Python turns SIGINT into KeyboardInterrupt, which, raised while modules load or the engine starts, prints a
traceback and exits -2. `guarded` takes SIGINT over until the command installs its own handling. It imports
nothing of CooPy, so every entry point (`coopy`, `python -m coopy_core.cli.main`, `coopy-tui`) can use it first.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

EXIT_INTERRUPTED = 130


class Interrupted(KeyboardInterrupt):
    """Ctrl-C before the command's own handling took over. A KeyboardInterrupt, not a SystemExit: the plug-in
    boundary turns a plug-in's sys.exit() into a failed attempt, and must not swallow a Ctrl-C that lands while a
    plug-in runs (asyncio passes KeyboardInterrupt through its tasks; `guarded` catches it: no traceback)."""


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(EXIT_INTERRUPTED)


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    """SIGINT waits while the block runs, and lands (as whatever its handler makes of it) once the block is done.

    For code that cannot take an exception raised in the middle of it: modules loading. Seen under load: a Ctrl-C
    landing while a class was made became a RuntimeError with a traceback (Python 3.11 wraps what `__set_name__`
    raises, e.g. in Textual's reactives), and pyo3 panicked when one landed inside pydantic_core's start-up."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def guarded(prog: str, load: Callable[[], Callable[[], int]]) -> int:
    """Load the command (`load` imports what it needs and returns it) with SIGINT held back, then run it with SIGINT
    taken over until it installs its own handling. A Ctrl-C at any moment of this ends it with one line and 130.

    The entry modules (`coopy_core.cli.launch`, `coopy_tui.launch`) hold SIGINT back from their first line; it is
    let through here, once the command is loaded and the handler in place."""
    signal.signal(signal.SIGINT, _interrupted)
    try:
        try:
            with held_back():
                command = load()
        finally:  # also when loading failed: the caller gets SIGINT back
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a Ctrl-C meanwhile lands here
        return command()
    except Interrupted:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while saying so changes nothing
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run_whole(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` with the event loop made while SIGINT waits: a Ctrl-C that lands inside the loop's
    construction would leave half a loop, whose clean-up at exit prints a traceback ("Exception ignored in
    BaseEventLoop.__del__"). Held back, it lands once the loop is whole (and is closed as usual)."""
    import asyncio  # here, not above: this module is imported before Ctrl-C is ours, so it stays light

    def whole_loop() -> asyncio.AbstractEventLoop:
        with held_back():
            return asyncio.new_event_loop()

    try:
        with asyncio.Runner(loop_factory=whole_loop) as runner:
            return runner.run(main)
    except BaseException:
        main.close()  # a Ctrl-C as the loop was made: never started, which Python would warn of at exit
        raise
