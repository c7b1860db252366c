"""The engine's look at NVML: once at start and once per poll, in this one place (never per pick), on the
engine's loop (NVML answers from the driver's memory in microseconds; a library that hangs is a broken
driver, which nvidia-smi would hang on too). What changed wakes dispatch: a GPU another user freed is used
at the next poll.

A process NVML shows is this pipeline's when its environment carries a COOPY_RUN_ID of this state dir and a
run that holds the GPU (every process of a run's tree inherits it); anything else is another's. Another
user's processes cannot be read, so they are others too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from coopy_core.gpus.accounting import GpuAccounting
from coopy_core.gpus.leases import Leases
from coopy_core.gpus.nvml import GpuSeen, NvmlMissing, read
from coopy_core.gpus.pool import GpuPlan, GpuState
from coopy_core.resources import Pool, Pools

log = logging.getLogger(__name__)

RUN_ID = b"COOPY_RUN_ID="


def run_key_of(pid: int, state_dir: str) -> tuple[str, str] | None:
    """(stage, run) of the run whose tree `pid` belongs to, from its COOPY_RUN_ID; None: not ours to read."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(RUN_ID):
            value = entry[len(RUN_ID) :].decode(errors="replace")
            where, sep, rest = value.rpartition(":")
            parts = rest.split("/")
            if sep and where == state_dir and len(parts) == 3:
                return parts[0], parts[1]
    return None


def states_of(
    seen: list[GpuSeen], pool: Pool, state_dir: str, key_of: Callable[[int, str], object | None] = run_key_of
) -> dict[str, GpuState]:
    """Each id of the pool (an NVML index or a UUID) with what is on it, ours told apart from others'."""
    by_id = {str(g.index): g for g in seen} | {g.uuid: g for g in seen}
    states: dict[str, GpuState] = {}
    for gpu in pool.ids or []:
        g = by_id.get(gpu)
        if g is None:
            continue
        holders = {k for k, v in pool.held.items() if isinstance(v, list) and gpu in v}
        foreign: list[tuple[int, float]] = []
        ours: dict[object, float] = {}
        for pid, mb in g.processes:
            key = key_of(pid, state_dir)
            if key in holders:
                ours[key] = ours.get(key, 0.0) + mb
            else:
                foreign.append((pid, mb))
        states[gpu] = GpuState(g.total_mb, tuple(foreign), ours, g.name, g.uuid)
    return states


class GpuWatch:
    def __init__(self, plan: GpuPlan, pool: Pool, state_dir: Path, interval: float, wake: Callable[[], None]) -> None:
        self.plan = plan
        self.pool = pool
        self.state_dir = str(state_dir)
        self.interval = interval
        self.wake = wake  # dispatch: what changed may let a run start
        self.report: Callable[[object, dict[str, float]], None] = lambda key, values: None  # into its metrics
        self.accounting = GpuAccounting()
        self.seen: list[GpuSeen] = []
        self._task: asyncio.Task[None] | None = None
        self._missing_said = False

    def refresh(self) -> bool:
        """Read NVML once; True when what the pool sees changed."""
        try:
            self.seen = read()
        except NvmlMissing as exc:
            if not self._missing_said:
                log.warning("GPUs: %s; keeping what was last seen", exc)
                self._missing_said = True
            return False
        states = states_of(self.seen, self.pool, self.state_dir)
        changed = states != self.plan.states
        self.plan.states = states
        if self.plan.leases is not None:  # other pipelines' claims: a claim that ended frees its GPU
            leased = self.plan.leases.others()
            changed = changed or {c.name for c in leased} != {c.name for c in self.plan.leased}
            self.plan.leased = leased
        for key, values in self.accounting.observe(self.seen, self.plan, self.pool.held).items():
            self.report(key, values)
        return changed

    def start(self) -> None:
        self.refresh()
        self._task = asyncio.ensure_future(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                if self.refresh():
                    self.wake()
            except Exception:  # noqa: BLE001 - a look at the GPUs must never stop the engine
                log.exception("reading the GPUs failed")


def watch_gpus(
    pools: Pools,
    state_dir: Path,
    interval: float,
    wake: Callable[[], None],
    report: Callable[[object, dict[str, float]], None],
) -> GpuWatch | None:
    """The engine's GPU watch when its GPU pool is NVML's (None otherwise): the first look made, the machine's
    lease folder opened, and the GPUs of re-adopted runs claimed again."""
    if pools.gpu_plan is None:
        return None
    watch = GpuWatch(pools.gpu_plan, pools.pools["gpus"], state_dir, interval, wake)
    watch.report = report  # a run's GPU numbers join its metrics
    pools.gpu_plan.leases = Leases()  # claims shared with the machine's other pipelines
    watch.start()
    for key in list(pools.pools["gpus"].held):
        pools.reclaim(key)
    return watch
