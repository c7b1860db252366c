"""Ctrl-C before a command's own handling takes over: exit 130 with one line, never a traceback.

Python turns SIGINT into KeyboardInterrupt, which, raised while modules load or the engine starts, prints a
traceback and exits -2. `guarded` takes SIGINT over until the command installs its own handling. It imports
nothing of CooPy, so every entry point (`coopy`, `python -m coopy_core.cli.main`, `coopy-tui`) can use it first.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

EXIT_INTERRUPTED = 130
# Extension modules whose start-up cannot take an exception: a Ctrl-C landing inside pydantic_core's (Rust, pyo3)
# made its import of `datetime` fail, and pyo3 panicked with a traceback of its own (seen under load).
NATIVE_MODULES = ("pydantic_core",)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C before the command's own handling took over. A KeyboardInterrupt, not a SystemExit: the plug-in
    boundary turns a plug-in's sys.exit() into a failed attempt, and must not swallow a Ctrl-C that lands while a
    plug-in runs (asyncio passes KeyboardInterrupt through its tasks; `guarded` catches it: no traceback)."""


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(EXIT_INTERRUPTED)


def _import_native() -> None:
    """Import NATIVE_MODULES with SIGINT held back: a Ctrl-C meanwhile lands once they are whole."""
    import contextlib  # here: this module stays light until Ctrl-C is ours
    import importlib

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        for name in NATIVE_MODULES:
            with contextlib.suppress(ImportError):  # not installed: the command says so in its own words
                importlib.import_module(name)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def guarded(prog: str, command: Callable[[], int]) -> int:
    """Run `command` (which imports what it needs) with SIGINT taken over until it installs its own handling."""
    signal.signal(signal.SIGINT, _interrupted)
    try:
        _import_native()
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
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return asyncio.new_event_loop()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    with asyncio.Runner(loop_factory=whole_loop) as runner:
        return runner.run(main)
