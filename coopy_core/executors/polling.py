"""The poll loop of a cluster executor (Slurm, Ray): one task that asks the cluster about all watched jobs at
once, every poll interval, sooner when woken, faster for a while after a cancel, until nothing is watched."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from coopy_core.executors.base import OnInfo

FAST_POLL = 0.5  # poll interval for a few seconds after a cancel, so the end shows promptly
FAST_POLL_FOR = 6.0


class Watched(Protocol):
    """A watched job as `report` sees it: what it told last, and whom to tell."""

    info: str
    on_info: OnInfo | None


def report(watch: Watched, info: str, log: logging.Logger) -> None:
    """Tell the watch's `on_info` about `info` when it is news (a poll that sees the same state says nothing);
    a callback that raises is logged, never the poll's end."""
    if info != watch.info:
        watch.info = info
        if watch.on_info is not None:
            try:
                watch.on_info(info)
            except Exception:  # noqa: BLE001
                log.exception("on_info callback failed")


class Poller:
    def __init__(
        self,
        log: logging.Logger,
        name: str,
        interval: float,
        poll: Callable[[], Awaitable[None]],
        busy: Callable[[], bool],
    ) -> None:
        self.log = log  # the executor's: a poll that failed is its line
        self.name = name
        self.interval = interval
        self._poll = poll  # one look at every watched job
        self._busy = busy  # whether anything is still watched (the executor is not closed)
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._fast_until = 0.0

    def ensure(self, wake: bool = False) -> None:
        """Start the loop on the running event loop unless it runs; `wake`: if it runs, poll now."""
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()  # bound to this loop
            self._task = asyncio.get_running_loop().create_task(self._loop())
        elif wake:
            self.wake()

    def wake(self) -> None:
        """Poll now (a job just submitted shows PENDING/RUNNING without waiting a whole interval)."""
        if self._wake is not None:
            self._wake.set()

    def hurry(self, grace: float) -> None:
        """Poll now and every FAST_POLL seconds for a while (after a cancel, so its end shows promptly)."""
        self._fast_until = time.monotonic() + max(FAST_POLL_FOR, grace)
        self.wake()

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _loop(self) -> None:
        assert self._wake is not None
        while self._busy():
            interval = FAST_POLL if time.monotonic() < self._fast_until else self.interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(interval, self.interval))
            self._wake.clear()
            if not self._busy():
                break
            try:
                await self._poll()
            except Exception:  # noqa: BLE001 - a bad answer must not stop watching
                self.log.exception("%s poll failed", self.name)
