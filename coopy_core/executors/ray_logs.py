"""A Ray job's output in CooPy's log file of its attempt.

While a job runs its output is followed (`tail_job_logs`) into the file, so the TUI's log tail works; at its
end the rest is fetched (`get_job_logs`) so the file is complete before the run's Detector reads it. What the
file already has is skipped (the file is the truth: after a restart the follow starts again from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from coopy_core.executors.base import Handle
from coopy_core.executors.ray_client import Cluster, Clusters, NotFound, Rejected, Unreachable
from coopy_core.executors.ray_job import Watch

log = logging.getLogger("coopy.ray")

TAIL_RETRY = 2.0  # seconds before following a job's log again after the stream broke


def written(handle: Handle) -> int:
    """Bytes of the job's output the log file has already (it may start with lines of earlier attempts)."""
    try:
        size = Path(handle["log"]).stat().st_size
    except OSError:
        size = 0
    return max(0, size - int(handle.get("log_offset") or 0))


def append(watch: Watch, data: bytes) -> None:
    try:
        with open(watch.handle["log"], "ab") as f:
            f.write(data)
    except OSError as exc:
        log.warning("ray: cannot write %s: %s", watch.handle["log"], exc.strerror)
        return
    watch.written += len(data)


def append_rest(watch: Watch, text: object) -> None:
    """The whole output as Ray gives it: append what the file does not have yet."""
    data = str(text or "").encode()
    if len(data) > watch.written:
        append(watch, data[watch.written :])


class JobLogs:
    """Copies the output of the watched jobs into their log files. `watched(watch)`: whether the executor still
    watches that job (a follow stops once it does not)."""

    def __init__(self, clusters: Clusters, watched: Callable[[Watch], bool]) -> None:
        self._clusters = clusters
        self._watched = watched

    def follow(self, watch: Watch) -> None:
        """Follow the job's output into the log file (what the file has already is skipped)."""
        watch.written = written(watch.handle)
        if watch.tail is None or watch.tail.done():
            watch.tail = asyncio.ensure_future(self._tail(watch))

    async def _tail(self, watch: Watch) -> None:
        address = str(watch.handle["address"])
        while self._watched(watch):
            client = self._clusters.get(address).jobs_client
            if client is None:
                await asyncio.sleep(TAIL_RETRY)
                continue
            seen = 0  # bytes of this stream so far; the first `written` of them are in the file already
            try:
                self._clusters.calls["tail_job_logs"] += 1
                async for chunk in client.tail_job_logs(watch.job_id):
                    data = chunk.encode()
                    start = max(0, watch.written - seen)
                    seen += len(data)
                    if start < len(data):
                        append(watch, data[start:])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the stream broke: follow again from where the file is
                log.info("ray: log stream of %s broke: %s", watch.job_id, exc)
            await asyncio.sleep(TAIL_RETRY)

    async def drain(self, cluster: Cluster, watch: Watch) -> None:
        """The job ended: write what the follow has not written yet (one get_job_logs)."""
        if watch.tail is not None:
            watch.tail.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch.tail
            watch.tail = None
        watch.written = written(watch.handle)  # the file is the truth: what the follow wrote before it stopped
        try:
            text = await self._clusters.acall(cluster.address, "get_job_logs", watch.job_id)
        except (Unreachable, Rejected, NotFound) as exc:
            log.warning("ray: cannot fetch the log of %s: %s", watch.job_id, exc)
            return
        append_rest(watch, text)

    def complete(self, handle: Handle) -> None:
        """A job that ended while no engine watched it: its log completed with one (blocking) get_job_logs."""
        watch = Watch(handle, lambda _code: None, None)
        watch.written = written(handle)
        try:
            text = self._clusters.call(str(handle["address"]), "get_job_logs", str(handle["job_id"]))
        except (Unreachable, NotFound, Rejected):
            text = ""
        append_rest(watch, text)
