"""What front ends ask the engine without changing it: the snapshot, the summary `coopy status` shows, a
stage's line, a run's earlier attempts and its metric series."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from coopy_core.commands import CommandError
from coopy_core.config import Config
from coopy_core.engine.book import Book
from coopy_core.lifecycle.metrics import MetricsTracker
from coopy_core.model import RunState, RunView, Snapshot
from coopy_core.resources import Pools
from coopy_core.state.journal import Events
from coopy_core.state.store import Store

# the runs `summary` names one by one (the others are only counted)
NAMED_STATES = frozenset({RunState.RUNNING, RunState.BLOCKED, RunState.FAILED, RunState.CANCELLED})


class Queries:
    def __init__(
        self,
        config: Config,
        book: Book,
        events: Events,
        pools: Pools,
        tracker: MetricsTracker,
        finished: asyncio.Event,
        store: Callable[[], Store],
    ) -> None:
        self.config = config
        self.book = book
        self.graph = book.graph
        self.events = events
        self.pools = pools
        self.tracker = tracker
        self.finished = finished
        self.store = store  # the open store (a RuntimeError before start)

    def snapshot(self) -> Snapshot:
        head, rows = self.snapshot_rows()
        return dataclasses.replace(head, runs=tuple(RunView(*row) for row in rows))

    def snapshot_rows(self) -> tuple[Snapshot, Iterator[tuple[Any, ...]]]:
        """The snapshot without its runs, and its runs as RunView-ordered tuples, made as they are read: read
        them before the loop turns (they are the engine's state now)."""
        book = self.book
        book.check_started()
        head = Snapshot(
            seq=self.events.seq,
            pipeline=self.config.pipeline.name,
            tasks=tuple(self.graph.tasks),
            stages=tuple(book.stage_view(s) for s in self.graph.stage_names),
            runs=(),
            finished=self.finished.is_set(),
            pools=self.pools.view(),
        )
        ordered = sorted(book.runs.values(), key=lambda r: r.order)
        removed = [r for r in book.removed if r.stage in book.stages]
        rows = itertools.chain(
            map(book.run_row, ordered),
            (dataclasses.astuple(book.removed_view(r)) for r in removed),
        )
        return head, rows

    def summary(self) -> dict[str, Any]:
        book = self.book
        book.check_started()
        named = sorted((r for r in book.runs.values() if r.state in NAMED_STATES), key=lambda r: r.order)
        return {
            "pipeline": self.config.pipeline.name,
            "tasks": len(self.graph.tasks),
            "stages": [book.stage_view(s).as_json() for s in self.graph.stage_names],
            "runs": [book.run_view(r).as_json() for r in named],
        }

    def queue_order(self, stage: str) -> list[str]:
        """Queued runs of `stage` in the order they would start."""
        return self.book.queue(stage).order()

    def attempt_history(self, stage: str, task: str | None = None) -> list[dict[str, Any]]:
        """Ended attempts of a run (or of every run of `stage`), oldest first, from the store: what the
        screens show of earlier attempts (their state, exit code, reason, times and log)."""
        self.book.queue(stage)
        if task is not None and not isinstance(task, str):
            raise CommandError("task must be a run's name")
        keys = ("task", "stage", "attempt", "state", "exit_code", "reason", "started_at", "ended_at", "log")
        return [dict(zip(keys, row, strict=True)) for row in self.store().attempts_of(stage, task)]

    def metric_series(self, task: str, stage: str, name: str | None = None) -> dict[str, list[list[float]]]:
        """A run's metric series, [[step, value], ...] per name (or only `name`), of its latest attempt."""
        run = self.book.get(task, stage)
        live = self.tracker.live.get(run.key)
        if live is not None and live[0] == run.attempt and live[1].series:
            series = {n: [list(p) for p in s.points] for n, s in live[1].series.items()}
        else:
            series = {row[2]: row[6] for row in self.store().metric_series(stage, task)}
        return {n: points for n, points in series.items() if name is None or n == name}
