"""Applying what Readiness said: runs become ready (queued, or skipped when their outputs are there), are
blocked, unblocked, reset or replaced; a new run carries the priority lead of what it needs."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Container, Iterator

from coopy_core.engine.book import Book
from coopy_core.engine.outputs import Outputs
from coopy_core.graph import Change, Changes, Progress, RunKey
from coopy_core.model import Run, RunState


class Settle:
    def __init__(self, book: Book, outputs: Outputs, live: Container[RunKey]) -> None:
        self.book = book
        self.outputs = outputs
        self.graph = book.graph
        self.readiness = book.readiness
        self.live = live  # the runs with a live attempt (lifecycle's)
        self.forced: set[RunKey] = set()  # re-runs asked for (`rerun`): never skipped for outputs already there

    def apply(self, changes: Changes, why: str = "") -> None:
        """Act on what Readiness said, in order; a run skipped on the way adds its own consequences."""
        book = self.book
        later: deque[tuple[Change, RunKey]] = deque()  # what skipped runs add: after all of `changes`, in order
        for change, key in itertools.chain(changes.items, _drain(later)):
            run = book.runs.get(key)
            if change == "ready":
                more = self.make_ready(key)
                if more:
                    later.extend(more.items)
            elif change == "blocked":
                self.block(key)
            elif run is None:
                continue
            elif change == "unblocked":
                if run.state == RunState.BLOCKED:
                    book.move(run, RunState.WAITING, "")
            elif change == "unready":
                if run.state == RunState.QUEUED:
                    book.unqueue(run)
                    book.move(run, RunState.WAITING, f"waits again: {why}" if why else "")
                elif run.state == RunState.RUNNING:
                    run.rerun = True
                    run.rerun_why = run.rerun_why or why
            elif change == "reset":
                if run.state.passed:
                    run.failures = 0
                    book.move(run, RunState.WAITING, f"runs again: {why or 'a run it needs runs again'}")
            elif change == "joined" and run.state == RunState.RUNNING:
                run.rerun = True
                run.rerun_why = run.rerun_why or why

    def make_ready(self, key: RunKey) -> Changes | None:
        """A run whose needs all passed joins its queue (or is skipped: its outputs are there already)."""
        book = self.book
        run = book.runs.get(key)
        if run is None:
            run = Run(*key)
            book.add(run, key)
        if run.state != RunState.WAITING:
            return None
        if not run.stored and run.attempt == 0 and not run.order:
            run.priority = self.carry_priority(key)
            run.order = book.order
            book.order += 1
        cfg = book.stages[run.stage]
        forced = key in self.forced
        self.forced.discard(key)
        if cfg.skip_if_done and not forced and self.outputs.outputs_exist(run):
            run.ended_at = book.clock()
            book.move(run, RunState.SKIPPED, "outputs already exist")
            return self.readiness.set(key, Progress.PASSED)
        book.move(run, RunState.QUEUED)
        book.place_queued(run)
        return None

    def block(self, key: RunKey) -> None:
        book = self.book
        run = book.runs.get(key)
        if run is None:
            run = Run(*key)
            book.add(run)
        if run.state == RunState.RUNNING and (book.flags.hold or key in self.live):
            run.rerun = True  # its result would not count: it is settled again when its attempt ends
            return
        book.unqueue(run)
        blocker = self.readiness.blocker(key)
        if blocker is None:
            reason = "waits on a run that failed"
        else:
            how = "was cancelled" if book.state_of(blocker) == RunState.CANCELLED else "failed"
            reason = f"waits on {blocker[0]}/{blocker[1]}, which {how}"
        book.move(run, RunState.BLOCKED, reason)

    def replace(self, run: Run, reason: str) -> None:
        """A run whose attempt no longer counts (a member joined while it ran): wait, queue or block it."""
        key = run.key
        if key in self.readiness.blocked:
            self.block(key)
        elif self.readiness.is_ready(key):
            self.book.move(run, RunState.WAITING, reason)
            more = self.make_ready(key)
            if more:
                self.apply(more)
        else:
            self.book.move(run, RunState.WAITING, reason)

    def carry_priority(self, key: RunKey) -> int:
        """A configuration bumped upstream keeps its lead downstream (the largest lead of what it needs)."""
        stages = self.book.stages
        base = stages[key[0]].priority
        leads = [
            run.priority - stages[need[0]].priority
            for need in self.graph.needed(key)
            if (run := self.book.runs.get(need)) is not None
        ]
        return base + (max(leads) if leads else 0)

    def touch_consumers(self, key: RunKey) -> None:
        """Group runs that wait on `key` show how many of their needs are left: tell the screens."""
        for stage in self.graph.consumer_stages[key[0]]:
            if not self.graph.is_group(stage):
                continue
            seen: set[RunKey] = set()
            for member in self.graph.members(key):
                consumer = self.graph.run_of(stage, member)
                if consumer not in seen:
                    seen.add(consumer)
                    run = self.book.runs.get(consumer)
                    if run is not None and run.state == RunState.WAITING:
                        self.book.save(run)


def _drain(work: deque[tuple[Change, RunKey]]) -> Iterator[tuple[Change, RunKey]]:
    """`work`'s items first in, first out, including those added while it is drained."""
    while work:
        yield work.popleft()
