"""What the UI needs from an engine: snapshots, events and commands, nothing else.

The in-process `coopy_core.engine.Engine` satisfies this protocol today; a
socket client for an engine in a background process (issue 7) only has to
implement the same methods. The UI never reaches past this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from coopy_core.commands import Commands
from coopy_core.model import Event, Snapshot

Unsubscribe = Callable[[], None]


@runtime_checkable
class EngineClient(Commands, Protocol):
    """Read the pipeline (snapshot + events) and steer it (the commands of `coopy_core.commands`).

    Commands raise `coopy_core.errors.CoopyError` (`CommandError`) with a message
    a person can read when they cannot be carried out; the UI shows it.
    """

    def snapshot(self) -> Snapshot: ...

    def subscribe(self, callback: Callable[[Event], None]) -> Unsubscribe: ...

    @property
    def task_count(self) -> int: ...
