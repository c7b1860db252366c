"""Talking to Ray: every call bounded, every error one of four kinds, one connection per cluster address.

Every call to Ray runs in a daemon thread bounded by a timeout (Ray's SDK sets none), so a hung head never
blocks the engine for long; the executor's synchronous methods (start, cancel, adopt, find_started) make one
such call each. An SDK error becomes Unreachable (the head did not answer), NotFound, Rejected or
AlreadyExists, so the executor decides on the kind, never on Ray's wording. Ray itself is imported only when a
first client is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from coopy_core.executors.ray_job import first_sentence, ray_error

log = logging.getLogger("coopy.ray")

CALL_TIMEOUT = 30.0  # seconds any one call to Ray may take
NODES_FRESH = 10.0  # seconds a list of the cluster's nodes is trusted
UNREACHABLE_WORDS = (  # what a failed connection says, in a few words (requests' own messages run long)
    ("connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("name or service not known", "unknown host"),
    ("no route to host", "no route to host"),
    ("failed to connect", "cannot connect"),
)

T = TypeVar("T")


class Unreachable(Exception):
    """The head did not answer (connection refused, timeout, a server error)."""


class NotFound(Exception):
    """The cluster answered: it has no job with this id."""


class Rejected(Exception):
    """The cluster answered: it will not take this job (the message says why)."""


class AlreadyExists(Exception):
    """The cluster already has a job with this submission id."""


# ------------------------------------------------------------------ calls, bounded
def _classify(exc: BaseException) -> Exception:
    text = str(exc)
    if isinstance(exc, Unreachable | NotFound | Rejected | AlreadyExists):
        return exc
    if isinstance(exc, OSError | TimeoutError):  # requests' ConnectionError and Timeout are OSErrors
        for needle, shown in UNREACHABLE_WORDS:
            if needle in text.lower():
                return Unreachable(shown)
        return Unreachable(f"{type(exc).__name__}: {first_sentence(text)[:200]}")
    if "already exists" in text:
        return AlreadyExists(ray_error(exc))
    if "status code 404" in text or "does not exist" in text:
        return NotFound(ray_error(exc))
    if re.search(r"status code 50[234]", text):
        return Unreachable(ray_error(exc))
    return Rejected(ray_error(exc))


def call_bounded(fn: Callable[[], T], timeout: float) -> T:
    """Run `fn` in a daemon thread and wait at most `timeout` s (a hung head leaves only that thread)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, name="coopy-ray-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Unreachable(f"no answer within {timeout:g}s")
    if "error" in box:
        raise _classify(box["error"]) from None
    return box["value"]


async def call_async(fn: Callable[[], T], timeout: float) -> T:
    """`call_bounded` without blocking the event loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, None, _classify(exc))
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, value, None)

    threading.Thread(target=work, name="coopy-ray-call", daemon=True).start()
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        raise Unreachable(f"no answer within {timeout:g}s") from None


# ------------------------------------------------------------------ clients
_ENV_LOCK = threading.Lock()
OVERRIDING_VARS = ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")


@contextlib.contextmanager
def _address_from_us(address: str) -> Iterator[None]:
    """Ray's clients let $RAY_ADDRESS / $RAY_API_SERVER_ADDRESS override the address they are given;
    a stage's `ray.address` must win, so when one of them says otherwise they are hidden while a client
    is made (once per address; the usual case, the address taken from $RAY_ADDRESS, changes nothing)."""
    if all(os.environ.get(k) in (None, address) for k in OVERRIDING_VARS):
        yield
        return
    with _ENV_LOCK:
        saved = {k: os.environ.pop(k) for k in OVERRIDING_VARS if k in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


def make_clients(address: str) -> tuple[Any, Any]:
    """(JobSubmissionClient, StateApiClient) for `address`; raises if the head does not answer."""
    from ray.job_submission import JobSubmissionClient
    from ray.util.state import StateApiClient

    # the SDK logs every closed log stream at INFO on stderr: that would break `coopy run`'s live lines
    logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)
    with _address_from_us(address):
        jobs = JobSubmissionClient(address)
        state = StateApiClient(address=jobs.get_address())
    return jobs, state


# ------------------------------------------------------------------ clusters
@dataclass
class Cluster:
    """One Ray cluster as the executor knows it: its clients, whether its head answers, its alive nodes."""

    address: str
    jobs_client: Any = None
    state_client: Any = None
    unreachable_since: float | None = None
    error: str = ""
    nodes: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)  # alive: id -> (name, total)
    nodes_at: float = 0.0


class Clusters:
    """The clusters one executor talks to, by address: clients made on first use (again after the head was
    away: a new head may have other ports), every call bounded and counted by name in `calls`."""

    def __init__(self, make: Callable[[str], tuple[Any, Any]], timeout: float) -> None:
        self._make = make
        self.timeout = timeout
        self._by_address: dict[str, Cluster] = {}
        self.calls: Counter[str] = Counter()  # calls to Ray by name (tests and the benchmark read it)

    def get(self, address: str) -> Cluster:
        if address not in self._by_address:
            self._by_address[address] = Cluster(address)
        return self._by_address[address]

    def call(self, address: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """`JobSubmissionClient.<name>(...)` on the cluster at `address`, bounded; blocks the caller."""
        cluster = self.get(address)
        if cluster.jobs_client is None:
            self.calls["connect"] += 1
            cluster.jobs_client, cluster.state_client = call_bounded(lambda: self._make(cluster.address), self.timeout)
        self.calls[name] += 1
        method = getattr(cluster.jobs_client, name)
        return call_bounded(lambda: method(*args, **kwargs), self.timeout)

    async def acall(self, address: str, name: str, *args: Any, **kwargs: Any) -> Any:
        """`call` without blocking the event loop."""
        cluster = self.get(address)
        if cluster.jobs_client is None:
            self.calls["connect"] += 1
            cluster.jobs_client, cluster.state_client = await call_async(
                lambda: self._make(cluster.address), self.timeout
            )
        self.calls[name] += 1
        method = getattr(cluster.jobs_client, name)
        return await call_async(lambda: method(*args, **kwargs), self.timeout)

    async def refresh_nodes(self, cluster: Cluster, max_age: float = NODES_FRESH) -> None:
        """The cluster's alive nodes with their total resources, asked at most once per `max_age` s."""
        if time.monotonic() - cluster.nodes_at < max_age:
            return
        cluster.nodes_at = time.monotonic()
        if cluster.state_client is None:
            return
        from ray.util.state.common import ListApiOptions, StateResource

        state = cluster.state_client
        self.calls["list_nodes"] += 1
        try:
            nodes = await call_async(
                lambda: state.list(
                    StateResource.NODES,
                    options=ListApiOptions(timeout=int(self.timeout)),
                    raise_on_missing_output=False,
                ),
                self.timeout,
            )
        except (Unreachable, Rejected, NotFound) as exc:
            log.warning("ray: cannot list the nodes of %s: %s", cluster.address, exc)
            return
        alive = {}
        for node in nodes:
            if getattr(node, "state", "") != "ALIVE":
                continue
            name = getattr(node, "node_name", "") or getattr(node, "node_ip", "") or str(node.node_id)[:8]
            alive[str(node.node_id)] = (str(name), dict(getattr(node, "resources_total", {}) or {}))
        cluster.nodes = alive

    async def node_name(self, cluster: Cluster, node_id: str | None, max_age: float) -> str:
        """What a person calls the node (its name or IP); a node not seen yet is asked for, at most once per
        `max_age` s."""
        if not node_id:
            return ""
        if node_id not in cluster.nodes:
            await self.refresh_nodes(cluster, max_age=max_age)
        found = cluster.nodes.get(node_id)
        return found[0] if found else f"node {node_id[:8]}"
