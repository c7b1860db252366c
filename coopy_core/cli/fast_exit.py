"""How `coopy` and `coopy-tui` end: without the interpreter's clean-up of every object it holds.

That clean-up (modules torn down, every object freed one by one) took ~40 ms after a pipeline ran, most of the
time between its last job's end and `coopy run`'s exit (bench W1, target 50 ms). Nothing in it is ours to keep:
the engine closed its store, files are closed by `with`, and what Python would still do that matters is done
here first, in the same order: wait for the threads that are not daemons, run the `atexit` callbacks (logging
flushes its files there, Ray disconnects), flush standard output and error. Only then the process exits.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_now(code: int | None) -> NoReturn:
    """Exit with `code` (None: 0) once what the interpreter's own exit would finish is finished."""
    status = code or 0
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(status)  # under a profiler, coverage or a debugger, which report at the interpreter's exit
    if not _flushed():
        sys.exit(status)  # a closed pipe or the like: Python's own exit reports it, as it always has
    main = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not main and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    if not _flushed():
        sys.exit(status)
    os._exit(status)


def _flushed() -> bool:
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a broken pipe, a closed stream
        return False
    return True
