"""Blocking waits (no event loop): poll a condition with a deadline; a passing test never gets near it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def poll(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Blocking: the first true value of `condition()`, looked at every `interval` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """`poll` in the reliability suite's argument order, every 0.05 s."""
    poll(condition, timeout, what, interval=0.05)
