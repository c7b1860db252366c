"""How `coopy` and `coopy-tui` end: without the interpreter's clean-up of every object it holds.

That clean-up (modules torn down, every object freed one by one) took ~40 ms after a pipeline ran, most of the
time between its last job's end and `coopy run`'s exit (bench W1, target 50 ms). Nothing in it is ours to keep:
the engine closed its store, files are closed by `with`, and what Python would still do that matters is done
here first, in the same order: threading's exit (its callbacks stop `concurrent.futures` pools, then it waits
for every thread that is not a daemon), the `atexit` callbacks (logging flushes its files there, Ray
disconnects), standard output and error flushed. Only then the process exits.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_now(code: int | None) -> NoReturn:
    """Exit with `code` (None: 0) once what the interpreter's own exit would finish is finished."""
    status = int(code or 0)
    threads_exit = getattr(threading, "_shutdown", None)  # what the interpreter's exit calls first
    if _watched() or threads_exit is None or not _flushed():
        sys.exit(status)  # Python's own exit: it reports to a profiler, or says a pipe is closed, as always
    threads_exit()
    atexit._run_exitfuncs()
    if not _flushed():
        sys.exit(status)
    os._exit(status)


def _watched() -> bool:
    """A profiler, coverage or a debugger is on: they write their report at the interpreter's exit."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python >= 3.12: cProfile and coverage register here
    return monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6))


def _flushed() -> bool:
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a broken pipe, a closed stream
        return False
    return True
