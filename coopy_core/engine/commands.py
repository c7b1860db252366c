"""The engine's answers to the commands of `coopy_core.commands.Commands`: pause, resume, workers, pools,
priorities, retry, cancel, add a configuration. Each checks its arguments (a CommandError names what is
wrong), changes the book, and dispatches when something may start now."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from coopy_core import templates
from coopy_core.commands import CommandError, check_call
from coopy_core.config import Config, stage_placeholders
from coopy_core.engine.book import Book
from coopy_core.engine.settle import Settle
from coopy_core.graph import Progress, RunKey
from coopy_core.lifecycle.attempts import Attempts
from coopy_core.model import EventKind, Run, RunState
from coopy_core.resources import Pools
from coopy_core.state.store import PENDING_META, StageRow
from coopy_core.tasks import Task, task_name, valid_task_name

STOPPED = (RunState.FAILED, RunState.CANCELLED)
MAX_PRIORITY = 10**15  # bump/top: well inside a 64-bit SQLite INTEGER
MAX_WORKERS = 10_000  # as in the config
MAX_POOL_AMOUNT = 1e15  # as in the config; NaN and infinity are refused too


class EngineCommands:
    def __init__(
        self,
        config: Config,
        book: Book,
        settle: Settle,
        attempts: Attempts,
        pools: Pools,
        finished: asyncio.Event,
        dispatch: Callable[[], None],
    ) -> None:
        self.config = config
        self.book = book
        self.graph = book.graph
        self.readiness = book.readiness
        self.settle = settle
        self.attempts = attempts
        self.pools = pools
        self.finished = finished
        self.dispatch = dispatch

    # ---------------------------------------------------------------- stages and pools
    def pause(self, stage: str) -> None:
        self._set_stage(stage, paused=True)

    def resume(self, stage: str) -> None:
        self._set_stage(stage, paused=False)
        self.dispatch()

    def toggle_pause(self, stage: str) -> bool:
        paused = not self.book.queue(stage).paused
        (self.pause if paused else self.resume)(stage)
        return paused

    def set_workers(self, stage: str, workers: int) -> None:
        """Raising starts more at once; lowering lets running ones finish."""
        if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
            raise CommandError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {str(workers)[:30]}")
        self._set_stage(stage, workers=workers)
        self.dispatch()

    def add_workers(self, stage: str, delta: int) -> int:
        """A relative change: N presses of a key give N steps, whatever the view they were made from."""
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise CommandError(f"delta must be a whole number, got {str(delta)[:30]}")
        workers = min(MAX_WORKERS, max(1, self.book.queue(stage).workers + delta))
        self.set_workers(stage, workers)
        return workers

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None:
        """Resize a resource pool (a list of ids, or an amount); runs holding resources keep them."""
        self.book.check_open()
        if name not in self.pools.pools:
            raise CommandError(f"no resource pool named {name!r}")
        if not isinstance(size, list) and not (
            isinstance(size, int | float) and not isinstance(size, bool) and 0 <= size <= MAX_POOL_AMOUNT
        ):
            raise CommandError(f"pool {name!r}: an amount from 0 to {MAX_POOL_AMOUNT:g}, got {str(size)[:30]}")
        try:
            self.pools.resize(name, size)
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from None
        self.book.journal.meta(f"pool:{name}", json.dumps(self.pools.pools[name].spec()))
        self.book.journal.emit(EventKind.POOL, data=self.pools.view())
        self.dispatch()

    def _set_stage(self, stage: str, *, paused: bool | None = None, workers: int | None = None) -> None:
        q = self.book.queue(stage)
        if paused is not None:
            q.paused = paused
        if workers is not None:
            q.workers = workers
        self.book.journal.stage(StageRow(stage, q.workers, self.book.stages[stage].workers, q.paused))
        self.book.journal.emit(EventKind.STAGE, stage=self.book.stage_view(stage))

    # ---------------------------------------------------------------- a queued run's place
    def bump(self, task: str, stage: str, delta: int = 1) -> int:
        """Change a queued run's priority by `delta`; returns the new priority."""
        run = self._queued(task, stage)
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise CommandError(f"delta must be a whole number, got {str(delta)[:30]}")
        return self._set_priority(run, run.priority + delta)

    def top(self, task: str, stage: str) -> int:
        """Move a queued run to the front of its stage's line."""
        run = self._queued(task, stage)
        q = self.book.queue(stage)
        order = q.order()
        if order and order[0] == task:
            return run.priority
        best = q.top_priority()
        return self._set_priority(run, max(run.priority, best if best is not None else run.priority) + 1)

    def _queued(self, task: str, stage: str) -> Run:
        run = self.book.get(task, stage)
        if run.state != RunState.QUEUED:
            raise CommandError(f"{stage}/{task} is {run.state.value}; only queued runs have a place in the line")
        return run

    def _set_priority(self, run: Run, priority: int) -> int:
        if not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:  # stored as a 64-bit SQLite INTEGER
            raise CommandError(f"the priority would be out of range (-{MAX_PRIORITY} to {MAX_PRIORITY})")
        run.priority = priority
        if run.key not in self.book.delayed:
            self.book.queues[run.stage].push(run.name, priority, run.order)
        self.book.save(run)
        return priority

    # ---------------------------------------------------------------- retry and cancel
    def retry(self, task: str, stage: str) -> None:
        """Queue a failed or cancelled run again, with a fresh retry budget; what it blocked waits again."""
        run = self.book.get(task, stage)
        if run.state == RunState.BLOCKED:
            raise CommandError(f"{stage}/{task} is blocked ({run.reason}): retry that run instead")
        if run.state not in (RunState.FAILED, RunState.CANCELLED):
            raise CommandError(f"{stage}/{task} is {run.state.value}; only failed or cancelled runs can be retried")
        old = run.state.value
        run.failures = 0
        run.not_before = None
        self.book.move(run, RunState.WAITING, f"retry requested (was {old})")
        self.settle.apply(self.readiness.set(run.key, Progress.OPEN))  # its own verdict first: ready, or blocked
        self.finished.clear()
        self.dispatch()

    def retry_failed(self, stage: str | None = None) -> int:
        """Retry every failed or cancelled run (of one stage, or all); returns how many."""
        if stage is not None:
            self.book.queue(stage)
        runs = [
            r
            for r in self.book.runs.values()
            if r.state in (RunState.FAILED, RunState.CANCELLED) and (stage is None or r.stage == stage)
        ]
        for run in runs:
            self.retry(run.name, run.stage)
        return len(runs)

    def rerun(self, stage: str, task: str | None = None, downstream: bool = False) -> int:
        """Run a finished run (done, skipped, failed or cancelled) again, or every finished run of a stage; what
        consumes a run that passed runs again with it (its result was made from the old one). `downstream`: the
        failed and cancelled runs downstream run again too. Returns how many runs will run again."""
        self.book.queue(stage)
        if task is not None:
            run = self.book.get(task, stage)
            if not (run.state.passed or run.state in STOPPED):
                raise CommandError(
                    f"{stage}/{task} is {run.state.value}; only a run that ended (done, skipped, failed, cancelled) "
                    "can be run again"
                )
            runs = [run]
        else:
            runs = [r for r in self.book.runs.values() if r.stage == stage and (r.state.passed or r.state in STOPPED)]
        ended = {k for k, r in self.book.runs.items() if r.state.passed or r.state in STOPPED}
        for run in runs:
            self._open_again(run)
        if downstream:
            for key in self._downstream([r.key for r in runs]):
                below = self.book.runs.get(key)
                if below is not None and below.state in STOPPED:
                    self.retry(below.name, below.stage)
        self.finished.clear()
        self.dispatch()
        return sum(1 for k in ended if not (self.book.runs[k].state.passed or self.book.runs[k].state in STOPPED))

    def _open_again(self, run: Run) -> None:
        if run.state in STOPPED:
            self.retry(run.name, run.stage)
            return
        run.failures = 0
        run.not_before = None
        run.recipe = None  # no result of it is current now: a start before it runs must not take it for one
        self.settle.forced.add(run.key)  # its outputs are there: run it all the same (skip_if_done)
        self.book.move(run, RunState.WAITING, f"runs again: re-run requested (was {run.state.value})")
        self.settle.apply(self.readiness.set(run.key, Progress.OPEN), why=f"{run.stage}/{run.name} runs again")

    def _downstream(self, keys: list[RunKey]) -> list[RunKey]:
        """Every run that needs one of `keys`, directly or not, each once."""
        seen: set[RunKey] = set(keys)
        out: list[RunKey] = []
        todo = list(keys)
        while todo:
            for consumer in self.graph.consumers(todo.pop()):
                if consumer not in seen:
                    seen.add(consumer)
                    out.append(consumer)
                    todo.append(consumer)
        return out

    def cancel(self, task: str, stage: str) -> None:
        """Cancel a waiting or queued run, or stop a running one and its whole process group."""
        run = self.book.get(task, stage, create=True)
        if run.state in (RunState.QUEUED, RunState.WAITING):
            self.cancel_waiting(run)
            self.dispatch()
        elif run.state == RunState.RUNNING:
            self.attempts.cancel(run, "cancelled by user")
        else:
            raise CommandError(
                f"{stage}/{task} is {run.state.value}; only waiting, queued or running runs can be cancelled"
            )

    def cancel_waiting(self, run: Run) -> None:
        """Cancel a waiting or queued run (no dispatch: a caller cancelling many dispatches once)."""
        self.book.unqueue(run)
        run.ended_at = self.book.clock()
        self.book.move(run, RunState.CANCELLED, f"cancelled while {run.state.value}")
        self.settle.apply(self.readiness.set(run.key, Progress.STOPPED))

    def carry_out(self, pending: list[dict[str, Any]]) -> None:
        """The commands given while no engine ran (`coopy retry-failed` offline), in order, at start once every
        run is back in its place; one that no longer applies (its run or stage was removed) is said and skipped."""
        for item in pending:
            name, kwargs = item.get("name"), item.get("kwargs") or {}
            try:
                bound = check_call(str(name), [], kwargs)
                getattr(self, str(name))(**bound)
            except CommandError as exc:
                self.book.message(f"a command given while no engine ran was not carried out: {exc}", level="warning")
        self.book.journal.meta(PENDING_META, "[]")

    # ---------------------------------------------------------------- a configuration added at run time
    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str:
        """Add a configuration while the pipeline runs: its runs wait, or start, like any others; a group
        it joins whose result depends on its members runs again."""
        book = self.book
        book.check_open()
        if not isinstance(params, Mapping):
            raise CommandError("params must be a table of names and values")
        params = dict(params)
        name = name or task_name(params)
        if not valid_task_name(name):
            raise CommandError(f"{name!r} is not a valid task name (letters, digits and . _ + = , @ -)")
        if name in self.graph.tasks:
            raise CommandError(f"a configuration named {name!r} already exists")
        self._check_new_params(params)
        task = Task(name, params)
        try:
            self.graph.check_task(task)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        book.journal.task(task, True)
        joined, changes = self.readiness.add_task(task)
        book.needs_total.clear()
        for key in joined:
            if key not in book.runs and self.graph.is_group(key[0]):
                book.add(Run(*key))
                book.save(book.runs[key])
        book.journal.emit(EventKind.TASK_ADDED, task=name)
        self.settle.apply(changes, why=f"configuration {name} joined")
        for key in joined:  # the group runs it joined show one more member
            run = book.runs.get(key)
            if run is not None and self.graph.is_group(key[0]):
                book.save(run)
        self.finished.clear()
        self.dispatch()
        return name

    def _check_new_params(self, params: dict[str, Any]) -> None:
        for key, value in params.items():
            if key in templates.BUILTIN_PLACEHOLDERS:
                raise CommandError(f"parameter name {key!r} is reserved for the built-in placeholder")
            if not isinstance(key, str) or not key.isidentifier():
                raise CommandError(f"parameter name {str(key)[:40]!r} should be a plain name (letters, digits, _)")
            if not isinstance(value, str | int | float) or (isinstance(value, float) and not math.isfinite(value)):
                raise CommandError(f"parameter {key}: a string, a number or true/false, got {str(value)[:30]!r}")
        given = set(params) | set(templates.BUILTIN_PLACEHOLDERS)
        for stage in self.config.stages:
            known = stage_placeholders(stage, set(params)) if stage.over is not None else given
            checks = [*stage.argv_templates, *stage.done_when, *stage.env.values()]
            for t in checks:
                try:
                    templates.check(t, known | ({"inputs"} if stage.inputs else set()))
                except templates.TemplateError as exc:
                    raise CommandError(f"stage {stage.name}: {exc}") from None
            for t in stage.inputs:
                try:
                    templates.check(t, given)
                except templates.TemplateError as exc:
                    raise CommandError(f"stage {stage.name}: {exc}") from None
