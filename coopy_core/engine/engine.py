"""Engine: the facade that makes the parts, starts and stops them, and retries a store that cannot be written.

Everything runs on one asyncio loop. A run's path passes each part once:
  dispatch.py   picks the runs that may start (`select`, pure) and commits them as running
  lifecycle/    starts the attempt, watches it, times it out or cancels it, detects how it ended
  ending.py     the attempt's end, as named rules in order (refused start, retry, re-run, settle, hooks)
  settle.py     applies what Readiness (graph.py) said: runs become ready, blocked, reset
and back to dispatch, in the same turn. book.py holds the run records, counts and queues; reconcile.py puts
them back in place at start; commands.py and queries.py answer the front ends; outputs.py knows what a run
is over and makes. No part imports this module: each gets what it needs when the engine is made or started.
Front ends read `snapshot()`, listen with `subscribe()` and steer only with the commands of
`commands.Commands`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from coopy_core.commands import CommandError
from coopy_core.config import Config
from coopy_core.config.load import check_engine_memory
from coopy_core.engine.book import Book
from coopy_core.engine.commands import EngineCommands
from coopy_core.engine.dispatch import Dispatch
from coopy_core.engine.ending import Endings
from coopy_core.engine.finish import Finish
from coopy_core.engine.outputs import Outputs
from coopy_core.engine.queries import Queries
from coopy_core.engine.reconcile import Reconcile
from coopy_core.engine.run_commands import RunCommands
from coopy_core.engine.selection import SelectionCommands
from coopy_core.engine.settle import Settle
from coopy_core.errors import StateError
from coopy_core.executors import Executors
from coopy_core.executors.base import Executor
from coopy_core.gpus.watch import GpuWatch, watch_gpus
from coopy_core.graph import Readiness
from coopy_core.lifecycle.attempts import Attempts
from coopy_core.lifecycle.hooks import HookRunner
from coopy_core.lifecycle.live import Ending
from coopy_core.lifecycle.metrics import MetricsTracker
from coopy_core.lifecycle.plugins import make_plugins
from coopy_core.model import EventKind, Run, RunState, RunView, Snapshot, StageView
from coopy_core.plan.signature import FileHashes, Recipes
from coopy_core.plan.targets import own_outputs
from coopy_core.resources import Pools
from coopy_core.state.journal import Events, Journal, Subscriber
from coopy_core.state.store import DB_NAME, EngineLock, Store, store_problem

COMMIT_RETRY = 2.0  # seconds between tries to write a store that failed (a full disk)

NOT_RUNNING = "the engine is not running: call `await engine.start()` first"


def _unwired(run: Run, ending: Ending) -> None:
    raise AssertionError("the engine's ending rules are wired at start, before any attempt starts")


class Engine(RunCommands, SelectionCommands):
    def __init__(
        self,
        config: Config,
        executors: Mapping[str, Executor] | None = None,
        clock: Callable[[], float] = time.time,
        take_over: bool = False,
        until: str | None = None,
    ) -> None:
        if not isinstance(config, Config):
            raise TypeError(
                f"Engine needs a Config (load_config(path), or pipeline.config), got {type(config).__name__}"
            )
        self.config = config
        self.clock = clock
        self.take_over = take_over  # a state dir of another config becomes this one's
        if until is not None and until not in config.stage_names:
            raise ValueError(f"until: no stage named {until!r} (stages: {', '.join(config.stage_names)})")
        self.until = until  # run only this stage and what it needs; the other stages start nothing
        self.executors = Executors(config, executors)
        self.graph = config.graph()
        check_engine_memory(config, sum(self.graph.run_count(s) for s in self.graph.stage_names))
        self.readiness = Readiness(self.graph)
        self._book = Book(config, self.graph, self.readiness, clock)
        self._own_outputs = own_outputs(config, self.graph)
        self._tracker = MetricsTracker(config.state_dir, self._book.metrics_reported)
        self._events = Events(clock)
        self._lock = EngineLock(config.state_dir)
        self._pools = Pools(config.pools, config.gpu_others)
        self._gpu_watch: GpuWatch | None = None
        self._finished = asyncio.Event()
        self._stopped = asyncio.Event()  # shut down: whoever waits for the end stops waiting
        self._failure: StateError | None = None  # the store failed for good: the engine stopped on its own
        self._queries = Queries(config, self._book, self._events, self._pools, self._tracker, self._finished, self._st)
        self._store: Store | None = None
        self._journal: Journal | None = None
        self._attempts: Attempts | None = None
        self._hooks: HookRunner | None = None
        self._recipes: Recipes | None = None
        self._commands: EngineCommands | None = None
        self._dispatch: Dispatch | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commit_timer: asyncio.TimerHandle | None = None

    # ================================================================ life cycle
    async def start(self) -> None:
        """Take the state dir, re-adopt what ran while no engine watched, start dispatching."""
        flags = self._book.flags
        if flags.closed:
            raise RuntimeError("this engine was shut down; make a new Engine to start the pipeline again")
        if self._loop is not None:
            raise RuntimeError("start() was already called on this engine: once per Engine (make a new one)")
        self._loop = self._book.loop = asyncio.get_running_loop()
        scripters, detectors = make_plugins(self.config)  # a broken plug-in is found before anything is written
        store = self._open_state()
        journal = self._journal = self._book.journal = Journal(
            store, self._events, self._store_failed, self._store_recovered
        )
        book, pools = self._book, self._pools
        hooks = self._hooks = HookRunner(self.config, store, journal, self.executors.local, book.notify)
        recipes = self._recipes = Recipes(self.config, scripters, FileHashes(store.file_hashes()))
        outputs = Outputs(self.config, book, recipes, scripters, self._own_outputs)
        finish = Finish(self.config, book, store, hooks, self._finished)
        attempts = self._attempts = Attempts(
            self.config, self.executors, scripters, detectors, self.clock, _unwired, book.save, self._tracker
        )
        attempts.on_started = book.save_later
        settle = Settle(book, outputs, attempts.live)
        dispatch = self._dispatch = Dispatch(book, pools, outputs, recipes, attempts, finish.check)
        attempts.on_end = Endings(
            book, settle, outputs, attempts.clear_outputs, pools, self._tracker, hooks, finish.settled, dispatch.run
        ).end  # an attempt's end goes straight to the ending rules, and from them to dispatch
        book.on_release = dispatch.run
        self._commands = EngineCommands(self.config, book, settle, attempts, pools, self._finished, dispatch.run)
        reconcile = Reconcile(self.config, store, book, settle, outputs, recipes, attempts, self.executors, pools)
        flags.hold = True  # no dispatch until every run is back in its place
        try:
            reconcile.load()
            for stage in self.held_stages():
                book.queues[stage].held = True
            journal.bind(self._loop)
            flags.started = True
            reconcile.reconcile()
            pending = store.pending_commands()
            if pending:  # given while no engine ran: carried out in the same turn as the reconcile
                self._commands.carry_out(pending)
        finally:
            flags.hold = False
        interval = self.config.pipeline.poll_interval  # GPUs read from NVML: once now, then once per poll
        self._gpu_watch = watch_gpus(
            pools, self.config.state_dir, interval, self._gpus_changed, self._tracker.record_for
        )
        attempts.start_polling()
        journal.commit()
        hooks.fire_pending()  # owed before a crash and never started
        self._dispatch.run()

    def held_stages(self) -> list[str]:
        """The stages `until` leaves out: all but it and what it needs, directly or not."""
        if self.until is None:
            return []
        scope, todo = {self.until}, [self.until]
        while todo:
            for need in self.graph.nodes[todo.pop()].needs:
                if need not in scope:
                    scope.add(need)
                    todo.append(need)
        return [s for s in self.config.stage_names if s not in scope]

    def _gpus_changed(self) -> None:
        """NVML showed something new: the pools screen is told, and a run may start."""
        self._book.journal.emit_heard(EventKind.POOL, lambda: {"data": self._pools.view()})
        if self._dispatch is not None:
            self._dispatch.run()

    def _open_state(self) -> Store:
        try:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{self.config.state_dir}: cannot create the state directory ({exc.strerror})") from None
        self._lock.acquire()
        try:
            store = self._store = Store(self.config.state_dir)
            owner = store.get_meta("config")
            here = str(self.config.path)
            if owner is not None and owner != here and not self.take_over:
                name = store.get_meta("pipeline") or "?"
                store.close()
                raise StateError(
                    f"{self.config.state_dir}: this state dir belongs to {owner} (pipeline {name!r}), not to "
                    f"{here}; give this config a state_dir of its own, or take it over with "
                    f"`coopy run --take-over {here}` (or start afresh: `coopy forget {owner}`)"
                )
            store.set_meta("config", here)
            store.set_meta("pipeline", self.config.pipeline.name)
        except sqlite3.Error as exc:
            self._lock.release()
            raise StateError(store_problem(self.config.state_dir / DB_NAME, exc, "write")) from None
        except Exception:
            self._lock.release()
            raise
        return store

    async def run_until_finished(self) -> bool:
        """Wait until every run passed, or stopped for good; True if all passed."""
        if not self._book.flags.started:
            raise RuntimeError(NOT_RUNNING)
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("the engine runs on the event loop that started it; await it there")
        if not self._finished.is_set():
            finished = asyncio.ensure_future(self._finished.wait())
            stopped = asyncio.ensure_future(self._stopped.wait())
            try:
                await asyncio.wait({finished, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                finished.cancel()
                stopped.cancel()
            if self._failure is not None:
                raise self._failure
            if not self._finished.is_set():
                raise RuntimeError("the engine was shut down before the pipeline finished")
        return self.all_passed()

    def hold_dispatch(self) -> None:
        """Start no run from now on, whatever the engine is doing (safe from a signal handler, also during
        `start()`): the step before `shutdown()` when a stop arrives before the engine serves."""
        self._book.flags.halted = True

    async def shutdown(self, stop_running: bool = False) -> None:
        """Stop the engine. Running commands keep running (the next start adopts them)
        unless `stop_running`, which stops them and puts their runs back in the queue."""
        flags = self._book.flags
        if flags.closed or not flags.started:
            return
        self._stopped.set()
        if self._gpu_watch is not None:
            self._gpu_watch.stop()
        flags.hold = True  # start nothing new: while we wait below, a backoff may end or a run finish
        if stop_running:
            await self.attempts.stop_all()
        flags.closed = True
        for timer in self._book.delayed.values():
            timer.cancel()
        if self._commit_timer is not None:
            self._commit_timer.cancel()
        if self._hooks is not None:
            self._hooks.close()
        await self.attempts.close()
        self.journal.commit()
        self.journal.live = False
        self.store.close()
        self._lock.release()

    def _run_dispatch(self) -> None:
        if self._dispatch is not None:
            self._dispatch.run()

    # ================================================================ parts
    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError(NOT_RUNNING)
        return self._store

    def _st(self) -> Store:
        return self.store

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            raise RuntimeError(NOT_RUNNING)
        return self._journal

    @property
    def attempts(self) -> Attempts:
        if self._attempts is None:
            raise RuntimeError(NOT_RUNNING)
        return self._attempts

    @property
    def recipes(self) -> Recipes:
        assert self._recipes is not None, "engine not started"
        return self._recipes

    def _cmd(self) -> EngineCommands:
        if self._commands is None:
            raise RuntimeError(NOT_RUNNING)
        return self._commands

    # ================================================================ views and subscriptions
    def subscribe(
        self,
        callback: Subscriber,
        kinds: frozenset[EventKind] | None = None,
        run_states: frozenset[RunState] | None = None,
    ) -> Callable[[], None]:
        """Call `callback(event)` for every event after this point (of `kinds`, None: all; RUN events only
        of runs in `run_states`, None: all); returns an unsubscribe function."""
        return self._events.subscribe(callback, kinds, run_states)

    def run_view(self, run: Run) -> RunView:
        return self._book.run_view(run)

    def stage_view(self, name: str) -> StageView:
        return self._book.stage_view(name)

    def snapshot(self) -> Snapshot:
        return self._queries.snapshot()

    def snapshot_rows(self) -> tuple[Snapshot, Iterator[tuple[Any, ...]]]:
        """`snapshot()` without its runs, and the runs as tuples in RunView's field order, made as they are
        read (the socket writes a million of them without a view object each); read them at once."""
        return self._queries.snapshot_rows()

    @property
    def event_seq(self) -> int:
        """The number of the last event made: a stream that starts after it misses nothing from now on."""
        return self._events.seq

    @property
    def finished(self) -> bool:
        """Nothing queued or running: every run passed or stopped for good."""
        return self._finished.is_set()

    @property
    def task_count(self) -> int:
        return len(self.graph.tasks)

    def all_passed(self) -> bool:
        return self._book.all_passed()

    def summary(self) -> dict[str, Any]:
        return self._queries.summary()

    def queue_order(self, stage: str) -> list[str]:
        """Queued runs of `stage` in the order they would start."""
        return self._queries.queue_order(stage)

    def attempt_history(self, stage: str, task: str | None = None) -> list[dict[str, Any]]:
        """Ended attempts of a run (or of every run of `stage`), oldest first, from the store."""
        return self._queries.attempt_history(stage, task)

    def metric_series(self, task: str, stage: str, name: str | None = None) -> dict[str, list[list[float]]]:
        """A run's metric series, [[step, value], ...] per name (or only `name`), of its latest attempt."""
        return self._queries.metric_series(task, stage, name)

    def results(
        self, group_by: list[str] | None = None, sort: str | None = None, stage: str | None = None
    ) -> dict[str, Any]:
        """The results table (results.py) from the engine's own view: one row per configuration (or per
        run of `stage`), grouped and sorted as asked."""
        from coopy_core.report import results

        if stage is not None:
            self._book.queue(stage)
        metrics = {key: values for key, (_attempt, values) in self._book.metrics.items()}
        states = {key: run.state for key, run in self._book.runs.items()}
        try:
            table = results.build(self.graph, self.config.stage_names, states, metrics, stage=stage)
            table = results.arrange(table, group_by=group_by or [], sort=sort)
        except results.ResultsError as exc:
            raise CommandError(str(exc)) from None
        return results.as_json(table)

    # ================================================================ a store that cannot be written
    @property
    def failure(self) -> StateError | None:
        """Why the engine stopped on its own: its store failed in a way no retry mends (None: it did not)."""
        return self._failure

    def _store_failed(self, why: str, lasting: bool = False) -> None:
        if self._failure is not None:
            return  # said once; the engine is stopping
        self._book.flags.store_error = why
        if lasting:  # a damaged store, or one another program changed: waiting will not mend it
            self._failure = StateError(
                f"{self.config.state_dir / DB_NAME}: cannot write the state store ({why}); this does not pass by "
                "waiting, so the engine stops (running commands go on; the next start adopts them)"
            )
            self._book.flags.halted = True
            self.journal.say(EventKind.MESSAGE, message=str(self._failure), level="error", data={"source": "store"})
            self._stopped.set()
            return
        self.journal.say(
            EventKind.MESSAGE,
            message=f"the state store cannot be written ({why}): nothing new starts; running commands go on; "
            f"trying again every {COMMIT_RETRY:g}s",
            level="error",
            data={"source": "store"},
        )
        self._schedule_commit()

    def _schedule_commit(self) -> None:
        if self._loop is not None and not self._book.flags.closed:
            self._commit_timer = self._loop.call_later(COMMIT_RETRY, self._retry_commit)

    def _retry_commit(self) -> None:
        self._commit_timer = None
        if not self._book.flags.closed and not self.journal.commit():
            self._schedule_commit()

    def _store_recovered(self) -> None:
        self._book.flags.store_error = None
        self.journal.say(
            EventKind.MESSAGE,
            message="the state store can be written again; starting runs again",
            data={"source": "store"},
        )
        if self._loop is not None:
            self._loop.call_soon(self._run_dispatch)
