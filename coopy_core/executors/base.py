"""The one small protocol every executor (local processes, Slurm jobs, Ray jobs) implements.

A handle is a JSON-able dict the Store keeps, so that after an engine restart
the same executor can re-adopt the run instead of starting it again.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from coopy_core.model import Launch

Handle = dict[str, Any]
OnEnd = Callable[[int | None], None]  # called once, in the event loop, with the exit code (None: unknown)
# Called in the event loop whenever what a screen should show about a live run changes,
# e.g. a Slurm job's "PENDING (Resources)"; optional, local processes have nothing to say.
OnInfo = Callable[[str], None]


# The machine, not the run, refused a start: out of descriptors, processes, memory or disk space. The run waits
# and tries again without using its retries.
MACHINE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM, errno.ENOSPC, errno.EDQUOT})


class StartError(Exception):
    """The run could not be started; the message says why (shown to the user). `transient`: the machine
    refused it for now (see MACHINE_ERRNOS); the same start may work in a moment."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

    @classmethod
    def from_os(cls, what: str, exc: OSError) -> StartError:
        """`what: strerror`, transient when the machine ran out of something."""
        return cls(f"{what}: {exc.strerror or exc}", transient=exc.errno in MACHINE_ERRNOS)


@dataclass(frozen=True)
class LaunchSpec:
    run_id: str  # stable id of this attempt, e.g. "train/model=a,seed=1/2"
    launch: Launch
    log: Path
    status: Path  # where the exit status is recorded when the command ends
    stage: str = ""  # the stage's name, for executors with per-stage options (Slurm partition, ...)
    # An executor whose start returns before the process exists (the spawn helper: the handle's pid is 0 until
    # then) calls one of these from the event loop once it knows; the others never do.
    on_started: Callable[[], None] | None = None
    on_refused: Callable[[StartError], None] | None = None


@dataclass(frozen=True)
class Adopted:
    """What became of a run while no engine watched it."""

    alive: bool
    exit_code: int | None = None
    lost: bool = False  # ended without leaving an exit status


class Executor(Protocol):
    name: str

    def start(self, spec: LaunchSpec) -> Handle:
        """Start detached; return a handle; raise StartError with a clear reason."""
        ...

    def watch(self, handle: Handle, on_end: OnEnd, on_info: OnInfo | None = None) -> None:
        """Call `on_end(exit_code)` once when the run ends (must be called from the event loop);
        `on_info(text)` (if given) whenever the run's outside state changes, e.g. "PENDING (Resources)"."""
        ...

    def cancel(self, handle: Handle, grace: float = 3.0) -> None:
        """Stop the run and everything it started (ask, then force after `grace` seconds)."""
        ...

    def adopt(self, handle: Handle) -> Adopted:
        """After a restart: is the run still alive, or how did it end?"""
        ...

    def find_started(self, run_id: str, status: Path) -> Handle | None:
        """A start may have happened just before a crash, unrecorded: find it by its run id."""
        ...

    def stop_leftovers(
        self, handle: Handle, run_prefix: str, grace: float, on_clear: Callable[[], None], on_info: OnInfo | None = None
    ) -> None:
        """The attempt is over and its main process (wrapper, job) has ended: stop whatever of it is still alive
        (ask, then force after `grace`), then call `on_clear()` from the event loop once nothing is. `run_prefix`
        is the start of the run ids of every attempt of the run (`<state_dir>:<stage>/<run>/`)."""
        ...

    def close(self) -> None:
        """Stop watching (the runs themselves keep running)."""
        ...
