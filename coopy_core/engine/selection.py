"""Commands over many runs at once (a screen's selection, a whole stage), and the way up from a waiting run.

One request is one turn and one transaction however many runs it names, where a call per run would be a
round trip and a commit each (a screen with 800 marked runs would freeze for seconds). A run the command does
not apply to (a done run in a cancel) is left as it is and not counted, so a selection that mixes states does
what it can; a malformed or unknown run refuses the whole command before anything changes.
"""

from __future__ import annotations

from typing import Any

from coopy_core.commands import CommandError
from coopy_core.engine.commands import MAX_PRIORITY, STOPPED, EngineCommands
from coopy_core.graph import RunKey
from coopy_core.model import Run, RunState

WAITING = (RunState.WAITING, RunState.QUEUED)


class SelectionCommands:
    """The Engine's commands over lists of runs (a mixin: the facade stays small); each works on `_cmd()`."""

    def _cmd(self) -> EngineCommands:
        raise NotImplementedError

    def cancel_runs(self, runs: list[list[str]]) -> int:
        """Cancel each of these runs ([stage, task] pairs) that is waiting, queued or running; returns how many."""
        cmd = self._cmd()
        return _cancel(cmd, _keys(cmd, runs))

    def cancel_stage(self, stage: str) -> int:
        """Cancel every waiting, queued or running run of a stage, those not reached yet too; returns how many."""
        cmd = self._cmd()
        cmd.book.queue(stage)
        return _cancel(cmd, [(stage, name) for name in cmd.graph.runs(stage)])

    def retry_runs(self, runs: list[list[str]]) -> int:
        """Queue again each of these runs ([stage, task] pairs) that failed or was cancelled; returns how many."""
        cmd = self._cmd()
        keys = [k for k in _keys(cmd, runs) if (run := cmd.book.runs.get(k)) is not None and run.state in STOPPED]
        for stage, task in keys:
            cmd.retry(task, stage)
        return len(keys)

    def bump_runs(self, runs: list[list[str]], delta: int = 1) -> int:
        """Change the priority of each of these runs ([stage, task] pairs) that is queued by `delta`; returns how
        many (none changes when one would leave the range)."""
        cmd = self._cmd()
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise CommandError(f"delta must be a whole number, got {str(delta)[:30]}")
        queued = [r for k in _keys(cmd, runs) if (r := cmd.book.runs.get(k)) is not None and r.state == RunState.QUEUED]
        if any(abs(run.priority + delta) > MAX_PRIORITY for run in queued):
            raise CommandError(f"the priority would be out of range (-{MAX_PRIORITY} to {MAX_PRIORITY})")
        for run in queued:
            cmd.bump(run.name, run.stage, delta)
        return len(queued)

    def waits_on(self, stage: str, task: str) -> list[str] | None:
        """The run a waiting or blocked run waits on, as [stage, task] (None: it waits on nothing): a run it needs
        that failed or was cancelled, else the start of a blocked one's chain, else one running or queued."""
        cmd = self._cmd()
        cmd.book.queue(stage)
        if not cmd.graph.exists((stage, task)):
            raise CommandError(f"stage {stage!r} has no run named {str(task)[:60]!r}")
        found = _upstream(cmd, (stage, task), set())
        return list(found) if found is not None else None


def _keys(cmd: EngineCommands, runs: Any) -> list[RunKey]:
    """The runs named, each once, in order; every one checked before anything is done."""
    if not isinstance(runs, list | tuple):
        raise CommandError("runs must be a list of [stage, task] pairs")
    keys: dict[RunKey, None] = {}
    for item in runs:
        if not (isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise CommandError(f"runs: each run is a [stage, task] pair, got {str(item)[:60]}")
        stage, task = item
        cmd.book.queue(stage)  # an unknown stage: said
        if (stage, task) not in cmd.book.runs and not cmd.graph.exists((stage, task)):
            raise CommandError(f"stage {stage!r} has no run named {task[:60]!r}")
        keys[(stage, task)] = None
    return list(keys)


def _cancel(cmd: EngineCommands, keys: list[RunKey]) -> int:
    """Waiting and queued runs first, one dispatch, then the running ones are stopped."""
    book = cmd.book
    count = 0
    running: list[Run] = []
    for stage, task in keys:
        run = book.runs.get((stage, task))
        if run is None or run.state in WAITING:
            cmd.cancel_waiting(run or book.get(task, stage, create=True))
            count += 1
        elif run.state == RunState.RUNNING:
            running.append(run)
    cmd.dispatch()
    for run in running:
        cmd.attempts.cancel(run, "cancelled by user")
    return count + len(running)


def _upstream(cmd: EngineCommands, key: RunKey, seen: set[RunKey]) -> RunKey | None:
    runs = cmd.book.runs

    def state(k: RunKey) -> RunState:
        run = runs.get(k)
        return run.state if run is not None else RunState.WAITING  # not reached yet: not stored

    seen.add(key)
    open_ = [k for k in cmd.graph.needed(key) if not state(k).passed and k not in seen]
    if not open_:
        return None
    for k in open_:
        if state(k) in STOPPED:
            return k
    for k in open_:
        if state(k) == RunState.BLOCKED:
            return _upstream(cmd, k, seen) or k
    for k in open_:
        if state(k) in (RunState.RUNNING, RunState.QUEUED):
            return k
    first = open_[0]
    return first if first in runs else (_upstream(cmd, first, seen) or first)
