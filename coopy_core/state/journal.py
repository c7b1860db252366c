"""The engine's writes and the events that report them: committed together, the events after the commit.

Every change the engine makes in one turn of its loop (a run's end, the runs that may start now, a
hook owed, ...) is collected in one `Batch` and written in ONE SQLite transaction, either at the end of
the turn (scheduled with `call_soon` when the first change arrives) or right before the engine starts a
process, so that what a new process depends on is durable before it exists. Events are numbered when
they happen and leave only after the commit that records them: a screen never shows a state the store
could lose.

A commit that fails (a full disk) keeps the batch: the runs in it are the live records, so the next try
writes their latest values. The engine is told (`on_error`) and starts nothing until a commit succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from coopy_core.model import Event, EventKind, MetricRow, Run, RunState
from coopy_core.state.store import Batch, StageRow, Store, permanent
from coopy_core.tasks import Task

log = logging.getLogger("coopy.journal")
LATER = 0.05  # seconds a change that may wait (see `Journal.run`) waits for a commit it can join

Subscriber = Callable[[Event], None]


@dataclass(frozen=True, eq=False)  # removed by identity
class Subscription:
    callback: Subscriber
    after: int  # the last event it must not get (made before it subscribed)
    kinds: frozenset[EventKind] | None  # None: every kind
    run_states: frozenset[RunState] | None  # RUN events only of runs in these states (None: all)

    def wants(self, kind: EventKind, state: RunState | None) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        return kind != EventKind.RUN or self.run_states is None or state is None or state in self.run_states


class Events:
    """Event numbers and delivery to subscribers."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.seq = 0
        self.subscribers: list[Subscription] = []
        self._heard: dict[tuple[EventKind, RunState | None], bool] = {}  # asked once per run moved: cached

    def make(self, kind: EventKind, **kw: Any) -> Event:
        self.seq += 1
        return Event(seq=self.seq, kind=kind, time=self.clock(), **kw)

    def subscribe(
        self,
        callback: Subscriber,
        kinds: frozenset[EventKind] | None = None,
        run_states: frozenset[RunState] | None = None,
    ) -> Callable[[], None]:
        """Deliver every event numbered after this moment (not those made before and still held), of `kinds`;
        RUN events only of runs now in `run_states`, so that a start's 10,000 runs queued build no views
        for a reader that prints only starts and ends."""
        entry = Subscription(callback, self.seq, kinds, run_states)
        self.subscribers.append(entry)
        self._heard.clear()
        return lambda: self._unsubscribe(entry)

    def _unsubscribe(self, entry: Subscription) -> None:
        if entry in self.subscribers:
            self.subscribers.remove(entry)
            self._heard.clear()

    def heard(self, kind: EventKind, state: RunState | None = None) -> bool:
        """Whether a subscriber wants events of this kind (a RUN event: of a run in `state`)."""
        known = self._heard.get((kind, state))
        if known is None:
            known = self._heard[(kind, state)] = any(sub.wants(kind, state) for sub in self.subscribers)
        return known

    def deliver(self, event: Event) -> None:
        state = event.run.state if event.run is not None else None
        for sub in list(self.subscribers):
            if event.seq <= sub.after or not sub.wants(event.kind, state):
                continue
            try:
                sub.callback(event)
            except Exception:  # noqa: BLE001 - a broken screen must not stop the pipeline
                log.exception("subscriber failed")


class Journal:
    def __init__(
        self,
        store: Store,
        events: Events,
        on_error: Callable[[str, bool], None],  # why, and whether it is permanent (no retry will mend it)
        on_recovered: Callable[[], None],
    ) -> None:
        self.store = store
        self.events = events
        self.on_error = on_error
        self.on_recovered = on_recovered
        self.batch = Batch()
        self.error: str | None = None  # the last commit failed: why
        self.commits = 0
        self._held: list[Event] = []
        self._after: list[Callable[[], None]] = []
        self._scheduled = False
        self._later_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.live = False  # before the engine runs (loading), changes are committed by hand

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.live = True

    # ------------------------------------------------------------------ recording
    def run(self, run: Run, later: bool = False) -> None:
        """`later`: news that may wait (a pid learned after the start) joins the next commit, within LATER s."""
        self.batch.runs[run.key] = run
        self._later() if later else self._soon()

    def attempt(self, row: tuple[Any, ...]) -> None:
        self.batch.attempts.append(row)
        self._soon()

    def hook(self, hook_id: str, spec: dict[str, Any]) -> None:
        self.batch.hooks.append((hook_id, spec))
        self._soon()

    def hook_state(self, hook_id: str, state: str) -> None:
        self.batch.hook_states[hook_id] = state
        self._soon()

    def meta(self, key: str, value: str) -> None:
        self.batch.meta[key] = value
        self._soon()

    def stage(self, row: StageRow) -> None:
        self.batch.stages[row.name] = row
        self._soon()

    def task(self, task: Task, added: bool) -> None:
        self.batch.tasks.append((task, added))
        self._soon()

    def file_hashes(self, changed: dict[str, tuple[int, int, str]]) -> None:
        if changed:
            self.batch.files.update(changed)
            changed.clear()
            self._soon()

    def task_params(self, name: str, params: Mapping[str, Any]) -> None:
        self.batch.tasks_changed[name] = params
        self._soon()

    def metrics(self, rows: list[MetricRow]) -> None:
        """A run's new metric values (the latest per name wins within a turn)."""
        for row in rows:
            self.batch.metrics[(row.task, row.stage, row.name)] = row
            self.batch.metric_attempts.add((row.task, row.stage, row.attempt))
        self._soon()

    def emit(self, kind: EventKind, **kw: Any) -> Event:
        """Number an event now; it is delivered after the next commit (at once if nothing waits)."""
        event = self.events.make(kind, **kw)
        self._held.append(event)
        self._soon()
        return event

    def emit_heard(
        self, kind: EventKind, build: Callable[[], dict[str, Any]], state: RunState | None = None, later: bool = False
    ) -> None:
        """`emit`, with the event's views built only when someone listens. A subscriber never gets an event
        numbered before it subscribed (`Events.subscribe`), so with nobody subscribed (a start reconciling
        100,000 runs before the progress printer or a client attaches) numbering it is all there is to do.
        `state`: the run's, for subscribers that want RUN events of some states only."""
        if self.events.heard(kind, state):
            self._held.append(self.events.make(kind, **build()))
        else:
            self.events.seq += 1
        self._later() if later else self._soon()

    def say(self, kind: EventKind, **kw: Any) -> None:
        """An event that reports nothing written (a message): delivered at once, even while the store fails."""
        self.events.deliver(self.events.make(kind, **kw))

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once, after the next successful commit (e.g. start the hooks it recorded)."""
        self._after.append(callback)
        self._soon()

    # ------------------------------------------------------------------ committing
    def _soon(self) -> None:
        if not self._scheduled and self.live and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._turn_end)

    def _later(self) -> None:
        if not self._scheduled and self._later_timer is None and self.live and self._loop is not None:
            self._later_timer = self._loop.call_later(LATER, self._turn_end)

    def _turn_end(self) -> None:
        self._scheduled = False
        if self._later_timer is not None:
            self._later_timer.cancel()
            self._later_timer = None
        if self.live:  # a timer that fires after the engine's last commit has nothing to do
            self.commit()

    def commit(self) -> bool:
        """Write the batch in one transaction, then deliver its events; False (batch kept) on failure."""
        if self.batch:
            try:
                self.store.write(self.batch)
            except sqlite3.Error as exc:
                self._failed(str(exc), permanent(exc))
                return False
            self.batch = Batch()
            self.commits += 1
        if self.error is not None:
            self.error = None
            self.on_recovered()
        held, self._held = self._held, []
        for event in held:
            self.events.deliver(event)
        after, self._after = self._after, []
        for callback in after:
            callback()
        return True

    def _failed(self, why: str, lasting: bool = False) -> None:
        first = self.error is None
        self.error = why
        if first or lasting:
            log.error("the state store cannot be written: %s", why)
            self.on_error(why, lasting)
