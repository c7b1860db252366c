"""What is known of an attempt while it lives, and how it ended: the types the life cycle's modules share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from coopy_core.model import Run, RunState
from coopy_core.tasks import Task

CANCEL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL


@dataclass(frozen=True)
class Ending:
    """How an attempt ended. QUEUED: stopped with the engine (`--stop-running`), to be started again."""

    state: RunState  # DONE, FAILED, CANCELLED or QUEUED
    exit_code: int | None = None
    reason: str = ""
    transient: bool = False  # FAILED to start because the machine refused (descriptors, memory, ...): not counted


@dataclass
class Live:
    """What is known of a running attempt beyond its record."""

    run: Run
    task: Task
    attempt: int
    exited: bool = False
    exit_code: int | None = None
    cancel_reason: str = ""
    interrupted: bool = False  # stopped with the engine: back to the queue
    timed_out: bool = False
    checking: bool = False
    info: str = ""  # the executor's last word on it, e.g. a Slurm job's "PENDING (Resources)"
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    watching: bool = False  # the executor reports its end
    ending: Ending | None = None  # decided; told once nothing of the attempt is alive any more


OnEnd = Callable[[Run, Ending], None]
OnChange = Callable[[Run], None]
