"""While CooPy imports a pipeline's file (`coopy run file.py`, the background engine), a `run()` at the file's
top level would run the pipeline in the middle of that import: the loader marks the import, `run()` refuses.

A leaf module, so the loader, the runner and the Python API share the mark without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_loading = 0


@contextmanager
def loading() -> Iterator[None]:
    """Mark the import of a pipeline's file (nested imports nest)."""
    global _loading
    _loading += 1
    try:
        yield
    finally:
        _loading -= 1


def being_loaded() -> bool:
    return _loading > 0
