"""What the UI needs from an engine: snapshots, events and commands, nothing else.

The in-process `coopy_core.engine.Engine` satisfies this protocol today; a
socket client for an engine in a background process (issue 7) only has to
implement the same methods. The UI never reaches past this interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from coopy_core.model import Event, Snapshot

Unsubscribe = Callable[[], None]


@runtime_checkable
class EngineClient(Protocol):
    """Read the pipeline (snapshot + events) and steer it (commands).

    Commands raise `coopy_core.errors.CoopyError` (`CommandError`) with a message
    a person can read when they cannot be carried out; the UI shows it.
    """

    def snapshot(self) -> Snapshot: ...

    def subscribe(self, callback: Callable[[Event], None]) -> Unsubscribe: ...

    def pause(self, stage: str) -> None: ...

    def resume(self, stage: str) -> None: ...

    def toggle_pause(self, stage: str) -> bool: ...

    def set_workers(self, stage: str, workers: int) -> None: ...

    def bump(self, task: str, stage: str, delta: int = 1) -> int: ...

    def top(self, task: str, stage: str) -> int: ...

    def retry(self, task: str, stage: str) -> None: ...

    def cancel(self, task: str, stage: str) -> None: ...

    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str: ...

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None: ...

    def queue_order(self, stage: str) -> list[str]: ...

    @property
    def task_count(self) -> int: ...
