"""The Engine's commands on one run or one stage (see `commands.Commands`): a mixin, so the facade keeps its
start, views and store handling; each call goes to the running engine's `EngineCommands`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coopy_core.engine.commands import EngineCommands


class RunCommands:
    """Pause, workers, pools, priorities, retry, rerun, cancel and new configurations, each through `_cmd()`."""

    def _cmd(self) -> EngineCommands:
        raise NotImplementedError

    def pause(self, stage: str) -> None:
        self._cmd().pause(stage)

    def resume(self, stage: str) -> None:
        self._cmd().resume(stage)

    def toggle_pause(self, stage: str) -> bool:
        return self._cmd().toggle_pause(stage)

    def set_workers(self, stage: str, workers: int) -> None:
        """Raising starts more at once; lowering lets running ones finish."""
        self._cmd().set_workers(stage, workers)

    def add_workers(self, stage: str, delta: int) -> int:
        """A relative change: N presses of a key give N steps, whatever the view they were made from."""
        return self._cmd().add_workers(stage, delta)

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None:
        """Resize a resource pool (a list of ids, or an amount); runs holding resources keep them."""
        self._cmd().set_pool(name, size)

    def bump(self, task: str, stage: str, delta: int = 1) -> int:
        """Change a queued run's priority by `delta`; returns the new priority."""
        return self._cmd().bump(task, stage, delta)

    def top(self, task: str, stage: str) -> int:
        """Move a queued run to the front of its stage's line."""
        return self._cmd().top(task, stage)

    def retry(self, task: str, stage: str) -> None:
        """Queue a failed or cancelled run again, with a fresh retry budget; what it blocked waits again."""
        self._cmd().retry(task, stage)

    def retry_failed(self, stage: str | None = None) -> int:
        """Retry every failed or cancelled run (of one stage, or all); returns how many."""
        return self._cmd().retry_failed(stage)

    def rerun(self, stage: str, task: str | None = None, downstream: bool = False) -> int:
        """Run a finished run, or every finished run of a stage, again (and what consumes it); returns how many."""
        return self._cmd().rerun(stage, task, downstream)

    def cancel(self, task: str, stage: str) -> None:
        """Cancel a waiting or queued run, or stop a running one and its whole process group."""
        self._cmd().cancel(task, stage)

    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str:
        """Add a configuration while the pipeline runs: its runs wait, or start, like any others; a group
        it joins whose result depends on its members runs again."""
        return self._cmd().add_task(params, name)
