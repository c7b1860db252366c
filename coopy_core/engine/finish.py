"""The pipeline's end: nothing queued or running. Said once (a FINISHED event, on_finished and the `notify`
note owed) each time the pipeline gets there, and only when some run ended in this session."""

from __future__ import annotations

import asyncio
from collections import Counter

from coopy_core.config import Config
from coopy_core.engine.book import Book
from coopy_core.lifecycle import notes
from coopy_core.lifecycle.hooks import HookRunner
from coopy_core.model import EventKind, RunState
from coopy_core.state.store import Store


class Finish:
    def __init__(
        self, config: Config, book: Book, store: Store, hooks: HookRunner | None, finished: asyncio.Event
    ) -> None:
        self.config = config
        self.book = book
        self.store = store
        self.hooks = hooks
        self.finished = finished
        self.settled_since_start = False  # the pipeline's end is an event only if some run ended

    def settled(self) -> None:
        self.settled_since_start = True

    def check(self) -> None:
        book = self.book
        if book.busy():
            self.finished.clear()
        elif not self.finished.is_set():
            self.finished.set()
            passed = book.all_passed()
            on_finished = self.config.pipeline.on_finished
            if self.settled_since_start and on_finished and self.hooks is not None:
                n = self.store.count_hooks("on_finished.") + 1
                values = {"pipeline": self.config.pipeline.name, "state": "passed" if passed else "failed"}
                self.hooks.owe(f"on_finished.{n}", on_finished, values, "on_finished")
            if self.settled_since_start and self.hooks is not None and self.config.pipeline.notify:
                counts: Counter[str] = Counter()
                for stage_counts in book.counts.values():
                    counts.update(stage_counts)
                failed = [run for run in book.runs.values() if run.state == RunState.FAILED]
                notes.pipeline_finished(self.hooks, counts, failed, passed)
            book.journal.emit(
                EventKind.FINISHED, message="all configurations passed" if passed else "finished with failures"
            )
