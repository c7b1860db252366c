"""The book of runs: every run record, the counts per stage and state, the stages' queues and backoff timers.

Every change of a run goes through `move` / `save`, which record it in the turn's journal and tell the
screens after the commit; the other parts of the engine read and change runs only here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

from coopy_core.commands import CommandError
from coopy_core.config import Config, StageConfig
from coopy_core.engine.queues import StageQueue
from coopy_core.engine.views import run_values, run_view, stage_view
from coopy_core.graph import Graph, Readiness, RunKey
from coopy_core.model import EventKind, MetricRow, Run, RunState, RunView, StageView
from coopy_core.state.journal import Journal


@dataclasses.dataclass
class Flags:
    """Where the engine is in its life; every part reads it, the facade sets it."""

    started: bool = False
    hold: bool = False  # no dispatch (loading, stopping)
    halted: bool = False  # asked to stop (even in the middle of its start): no run starts any more
    closed: bool = False
    store_error: str | None = None  # the last commit failed: nothing new starts


class Book:
    def __init__(self, config: Config, graph: Graph, readiness: Readiness, clock: Callable[[], float]) -> None:
        self.graph = graph
        self.readiness = readiness
        self.clock = clock
        self.flags = Flags()
        self.stages: dict[str, StageConfig] = {s.name: s for s in config.stages}
        self.index = {s.name: i for i, s in enumerate(config.stages)}
        self.runs: dict[RunKey, Run] = {}
        self.queues: dict[str, StageQueue] = {}
        self.delayed: dict[RunKey, asyncio.TimerHandle] = {}
        self.counts: dict[str, Counter[str]] = {s: Counter() for s in self.stages}
        self.durations: dict[str, tuple[float, int]] = {s: (0.0, 0) for s in self.stages}
        self.needs_total: dict[RunKey, int] = {}
        self.metrics: dict[RunKey, tuple[int, dict[str, float]]] = {}  # per run: (attempt, last values)
        self.removed: list[Run] = []  # runs of configurations the config no longer has (kept, not run)
        self.order = 0  # the enqueue order the next run gets
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_release: Callable[[], None] = lambda: None  # a run's backoff is over: dispatch
        self._journal: Journal | None = None

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            raise RuntimeError("the engine is not running: call `await engine.start()` first")
        return self._journal

    @journal.setter
    def journal(self, journal: Journal) -> None:
        self._journal = journal

    # ---------------------------------------------------------------- records
    def add(self, run: Run, key: RunKey | None = None) -> None:
        """`key`: the run's key when the caller holds one already (a start adds 100,000: one tuple each, not two)."""
        self.runs[key or run.key] = run
        self.counts[run.stage][run.state.value] += 1

    def move(self, run: Run, state: RunState, reason: str | None = None) -> None:
        if run.state != state:
            counts = self.counts[run.stage]
            counts[run.state.value] -= 1
            counts[state.value] += 1
            run.state = state
        if reason is not None:
            run.reason = reason
        self.save(run)

    def save(self, run: Run, later: bool = False) -> None:
        """Record the run (in this turn's commit) and tell the screens (after it). `later`: a change that may join
        a later commit (within `journal.LATER`): the pid the spawn helper answers, which nothing waits for (a
        restart finds a run without one by its run id)."""
        if run.stored or run.state != RunState.WAITING:
            self.journal.run(run, later)
        self.journal.emit_heard(
            EventKind.RUN, lambda: {"run": self.run_view(run), "stage": self.stage_view(run.stage)}, run.state, later
        )

    def save_later(self, run: Run) -> None:
        self.save(run, later=True)

    def state_of(self, key: RunKey) -> RunState | None:
        run = self.runs.get(key)
        return run.state if run else None

    def add_duration(self, stage: str, seconds: float) -> None:
        total, n = self.durations[stage]
        self.durations[stage] = (total + seconds, n + 1)

    def all_passed(self) -> bool:
        """Every run passed (of the stages this session runs: `coopy run --until` holds the others)."""
        return all(
            self.counts[s][RunState.DONE.value] + self.counts[s][RunState.SKIPPED.value] == self.graph.run_count(s)
            for s in self.graph.stage_names
            if not self.held(s)
        )

    def busy(self) -> bool:
        """Something is running, or queued in a stage that may start it."""
        return any(
            c[RunState.RUNNING.value] or (c[RunState.QUEUED.value] and not self.held(s)) for s, c in self.counts.items()
        )

    def held(self, stage: str) -> bool:
        queue = self.queues.get(stage)
        return queue is not None and queue.held

    def metrics_reported(self, key: RunKey, attempt: int, rows: list[MetricRow]) -> None:
        """New numbers from a run: into this turn's commit, and to the screens with the run's view."""
        run = self.runs.get(key)
        if run is None or run.attempt != attempt or self.flags.closed:
            return
        known = self.metrics.get(key)
        if known is None or known[0] != attempt:  # a new attempt's numbers replace the last one's
            known = self.metrics[key] = (attempt, {})
        for row in rows:
            known[1][row.name] = row.value
        self.journal.metrics(rows)
        self.journal.emit_heard(
            EventKind.RUN, lambda: {"run": self.run_view(run), "stage": self.stage_view(run.stage)}, run.state
        )

    def message(
        self, text: str, level: str = "info", run: RunView | None = None, data: dict[str, Any] | None = None
    ) -> None:
        self.journal.emit(EventKind.MESSAGE, message=text, level=level, run=run, data=data or {})

    def notify(self, text: str, level: str) -> None:
        """A hook's news: a MESSAGE event tagged `source = hook` (screens show it as a notification)."""
        self.journal.emit(EventKind.MESSAGE, message=text, level=level, data={"source": "hook"})

    # ---------------------------------------------------------------- queues
    def place_queued(self, run: Run) -> None:
        """Into the line, or behind its retry's backoff."""
        if run.not_before and run.not_before > self.clock():
            self.delay(run)
        else:
            self.queues[run.stage].push(run.name, run.priority, run.order)

    def unqueue(self, run: Run) -> None:
        self.queues[run.stage].remove(run.name)
        timer = self.delayed.pop(run.key, None)
        if timer is not None:
            timer.cancel()

    def delay(self, run: Run) -> None:
        assert self.loop is not None
        delay = max(0.0, (run.not_before or 0.0) - self.clock())
        self.delayed[run.key] = self.loop.call_later(delay, self._release, run.key)

    def _release(self, key: RunKey) -> None:
        self.delayed.pop(key, None)
        run = self.runs.get(key)
        if run is None or run.state != RunState.QUEUED or self.flags.closed:
            return
        run.not_before = None
        self.save(run)
        self.queues[run.stage].push(run.name, run.priority, run.order)
        self.on_release()

    # ---------------------------------------------------------------- looking runs up for a command
    def check_started(self) -> None:
        """Views and commands need the state a start loads (a view after shutdown is the last one)."""
        if not self.queues:
            raise RuntimeError("the engine is not running: call `await engine.start()` first")

    def check_open(self) -> None:
        self.check_started()
        if self.flags.closed:
            raise RuntimeError("the engine was shut down; it takes no more commands")

    def queue(self, stage: str) -> StageQueue:
        self.check_open()
        try:
            return self.queues[stage]
        except (KeyError, TypeError):
            raise CommandError(f"no stage named {str(stage)[:60]!r}") from None

    def get(self, task: str, stage: str, create: bool = False) -> Run:
        self.queue(stage)
        key = (stage, task)
        run = self.runs.get(key)
        if run is not None:
            return run
        if not self.graph.exists(key):
            if self.graph.is_group(stage):
                raise CommandError(f"stage {stage!r} has no run named {str(task)[:60]!r}")
            raise CommandError(f"no configuration named {str(task)[:60]!r}")
        if not create:
            raise CommandError(f"{task!r} has not reached stage {stage!r} yet (it waits for the runs it needs)")
        run = Run(stage, task)
        self.add(run)
        return run

    # ---------------------------------------------------------------- views
    def run_view(self, run: Run) -> RunView:
        return RunView(*self.run_row(run))

    def run_row(self, run: Run) -> tuple[Any, ...]:
        """`run_view`'s values as a tuple in RunView's field order (a snapshot's row)."""
        key = run.key
        total = self.needs_total.get(key)
        if total is None:
            total = self.needs_total[key] = len(self.graph.needed(key))
        reported = self.metrics.get(key)
        return run_values(run, self.graph, self.readiness, total, reported[1] if reported else None)

    def removed_view(self, run: Run) -> RunView:
        view = run_view(run, self.graph, self.readiness, 0)
        return dataclasses.replace(view, state=RunState.REMOVED, reason=f"configuration removed ({run.state.value})")

    def stage_view(self, name: str) -> StageView:
        self.check_started()
        return stage_view(
            name, self.index[name], self.queues[name], self.counts[name], self.durations[name], self.graph
        )
