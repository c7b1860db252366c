"""Engine: owns the pipeline's state and turns what happens into transitions.

Everything runs on one asyncio loop. The parts, none of which imports this module:
  graph.py      which runs exist and what each needs; Readiness says what may start (pure)
  lifecycle.py  one attempt: start, watch, timeout, cancel, detect; calls back `_ended`
  journal.py    the writes of one turn in one SQLite transaction; events after the commit
  queue.py      a stage's waiting line, pause flag and worker cap
  views.py      RunView / StageView for screens
The engine wires them: a run's end is recorded, Readiness names what may start now, those runs join
their queues, and `_dispatch` (a loop, never recursion) starts every run that has a free worker, after
a commit, in the same turn. Front ends read `snapshot()`, listen with `subscribe()` and steer only with
the commands of `commands.Commands`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coopy_core import templates
from coopy_core.commands import CommandError
from coopy_core.config import Config, StageConfig, stage_placeholders
from coopy_core.engine.queues import StageQueue
from coopy_core.engine.views import run_view, stage_view
from coopy_core.errors import StateError
from coopy_core.executors import Executors
from coopy_core.executors.base import Executor
from coopy_core.graph import Changes, Progress, Readiness, RunKey
from coopy_core.lifecycle.attempts import Attempts, Ending, disk_full_note, stop_leftover
from coopy_core.lifecycle.hooks import HookRunner
from coopy_core.lifecycle.metrics import MetricRow, MetricsTracker, last_values
from coopy_core.lifecycle.plugins import make_plugins
from coopy_core.model import EventKind, Run, RunState, RunView, Snapshot, StageView
from coopy_core.plan.judge import input_paths, judge, outputs_are_own, outputs_trusted
from coopy_core.plan.signature import SCRIPTER_FAILED, FileHashes, Recipe, Recipes, result_id
from coopy_core.resources import Allocation, Pools
from coopy_core.scripter import Launch, placeholder_values
from coopy_core.state.journal import Events, Journal, Subscriber
from coopy_core.state.store import DB_NAME, EngineLock, StageRow, Store, attempt_row, store_problem
from coopy_core.tasks import Task, task_name, valid_task_name

__all__ = ["CommandError", "Engine", "Subscriber"]

log = logging.getLogger("coopy.engine")

MAX_PRIORITY = 10**15  # bump/top: well inside a 64-bit SQLite INTEGER
MAX_WORKERS = 10_000  # as in the config
MAX_POOL_AMOUNT = 1e15  # as in the config; NaN and infinity are refused too
COMMIT_RETRY = 2.0  # seconds between tries to write a store that failed (a full disk)
REFUSED_BACKOFF = (1.0, 30.0)  # a start the machine refused waits 1 s, doubling per refusal in a row, at most 30 s
REFUSED_NOTE_EVERY = 10.0  # seconds: one message for a wave of refused starts, not one per run


@dataclasses.dataclass(slots=True)
class _Pick:
    """A run chosen to start, with what its start needs."""

    run: Run
    task: Task
    allocation: Allocation | None
    header: str
    members: dict[str, Any] | None
    launch: Launch | None  # the Scripter's answer for attempt 1, asked once for the recipe
    before: tuple[Any, ...]  # what the start changed on the run, for `_unpick`


# the runs `summary` names one by one (the others are only counted)
NAMED_STATES = frozenset({RunState.RUNNING, RunState.BLOCKED, RunState.FAILED, RunState.CANCELLED})


class Engine:
    def __init__(
        self,
        config: Config,
        executors: Mapping[str, Executor] | None = None,
        clock: Callable[[], float] = time.time,
        take_over: bool = False,
    ) -> None:
        if not isinstance(config, Config):
            raise TypeError(
                f"Engine needs a Config (load_config(path), or pipeline.config), got {type(config).__name__}"
            )
        self.config = config
        self.clock = clock
        self.take_over = take_over  # a state dir of another config becomes this one's
        self.executors = Executors(config, executors)
        self.graph = config.graph()
        self.readiness = Readiness(self.graph)
        self._stages: dict[str, StageConfig] = {s.name: s for s in config.stages}
        self._index = {s.name: i for i, s in enumerate(config.stages)}
        self._runs: dict[RunKey, Run] = {}
        self._queues: dict[str, StageQueue] = {}
        self._delayed: dict[RunKey, asyncio.TimerHandle] = {}
        self._counts: dict[str, Counter[str]] = {s: Counter() for s in self._stages}
        self._durations: dict[str, tuple[float, int]] = {s: (0.0, 0) for s in self._stages}
        self._needs_total: dict[RunKey, int] = {}
        self._metrics: dict[RunKey, tuple[int, dict[str, float]]] = {}  # per run: (attempt, last values)
        self._tracker = MetricsTracker(config.state_dir, self._metrics_reported)
        self._events = Events(clock)
        self._lock = EngineLock(config.state_dir)
        self._store: Store | None = None
        self._journal: Journal | None = None
        self._attempts: Attempts | None = None
        self._hooks: HookRunner | None = None
        self._pools = Pools(config.pools)
        self._order = 0
        self._finished = asyncio.Event()
        self._stopped = asyncio.Event()  # shut down: whoever waits for the end stops waiting
        self._settled_since_start = False  # the pipeline's end is an event only if some run ended
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._hold = False  # no dispatch (loading, stopping)
        self._closed = False
        self._dispatching = False
        self._again = False
        self._store_error: str | None = None
        self._commit_timer: asyncio.TimerHandle | None = None
        self._recipes: Recipes | None = None
        self._removed: list[Run] = []  # runs of configurations the config no longer has (kept, not run)
        self._made: dict[str, str] = {}  # output path -> the signature of the recipe that made it
        common = set.intersection(*(set(t.params) for t in self.graph.tasks.values())) if self.graph.tasks else set()
        self._own_outputs = {  # per stage: each run's outputs are its own (not a file several runs declare)
            s.name: self.graph.run_count(s.name) <= 1 or outputs_are_own(s, s.over if s.over is not None else common)
            for s in config.stages
        }
        self._refused: dict[RunKey, int] = {}  # starts the machine refused in a row, per run
        self._refused_said = -math.inf

    # ================================================================ life cycle
    async def start(self) -> None:
        """Take the state dir, re-adopt what ran while no engine watched, start dispatching."""
        if self._closed:
            raise RuntimeError("this engine was shut down; make a new Engine to start the pipeline again")
        if self._loop is not None:
            raise RuntimeError("start() was already called on this engine: once per Engine (make a new one)")
        self._loop = asyncio.get_running_loop()
        scripters, detectors = make_plugins(self.config)  # a broken plug-in is found before anything is written
        self._open_state()
        journal = self._journal = Journal(self.store, self._events, self._store_failed, self._store_recovered)
        self._attempts = Attempts(
            self.config, self.executors, scripters, detectors, self.clock, self._ended, self._save, self._tracker
        )
        self._hooks = HookRunner(self.config, self.store, journal, self.executors.local, self._notify)
        self._recipes = Recipes(self.config, scripters, FileHashes(self.store.file_hashes()))
        self._hold = True  # no dispatch until every run is back in its place
        try:
            self._load()
            journal.bind(self._loop)
            self._started = True
            self._reconcile()
        finally:
            self._hold = False
        self._attempts.start_polling()
        journal.commit()
        self._hooks.fire_pending()  # owed before a crash and never started
        self._dispatch()

    def _open_state(self) -> None:
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

    async def run_until_finished(self) -> bool:
        """Wait until every run passed, or stopped for good; True if all passed."""
        if not self._started:
            raise RuntimeError("the engine is not running: call `await engine.start()` first")
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
            if not self._finished.is_set():
                raise RuntimeError("the engine was shut down before the pipeline finished")
        return self.all_passed()

    async def shutdown(self, stop_running: bool = False) -> None:
        """Stop the engine. Running commands keep running (the next start adopts them)
        unless `stop_running`, which stops them and puts their runs back in the queue."""
        if self._closed or not self._started:
            return
        self._stopped.set()
        self._hold = True  # start nothing new: while we wait below, a backoff may end or a run finish
        if stop_running:
            await self.attempts.stop_all()
        self._closed = True
        for timer in self._delayed.values():
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

    # ================================================================ parts
    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the engine is not running: call `await engine.start()` first")
        return self._store

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            raise RuntimeError("the engine is not running: call `await engine.start()` first")
        return self._journal

    @property
    def attempts(self) -> Attempts:
        if self._attempts is None:
            raise RuntimeError("the engine is not running: call `await engine.start()` first")
        return self._attempts

    @property
    def recipes(self) -> Recipes:
        assert self._recipes is not None, "engine not started"
        return self._recipes

    # ================================================================ loading
    def _load(self) -> None:
        store, journal = self.store, self.journal
        stored_tasks = store.tasks()
        known = {name: params for name, params, _added in stored_tasks}
        for task in self.config.tasks:
            if task.name not in known:
                journal.task(task.name, dict(task.params), False)
            elif known[task.name] != dict(task.params):
                journal.task_params(task.name, dict(task.params))  # its runs are judged against the new ones
        for name, params, added in stored_tasks:
            if added and name not in self.graph.tasks:
                try:
                    self.graph.add_task(Task(name, params))
                except ValueError as exc:
                    log.warning("configuration %s, added at run time, no longer fits the config: %s", name, exc)
        rows = store.stages()
        for stage in self.config.stages:
            row = rows.get(stage.name)
            if row is None or row.config_workers != stage.workers:
                row = StageRow(stage.name, stage.workers, stage.workers, row.paused if row else False)
                journal.stage(row)
            self._queues[stage.name] = StageQueue(stage.name, row.workers, row.paused)
        for name, spec in self.config.pools.items():
            stored = store.get_meta(f"pool:{name}")
            if stored is not None and store.get_meta(f"poolcfg:{name}") == json.dumps(spec):
                self._pools.resize(name, json.loads(stored))  # resized at run time; the config is unchanged
            else:
                journal.meta(f"pool:{name}", json.dumps(spec))
                journal.meta(f"poolcfg:{name}", json.dumps(spec))
        self._metrics = last_values(store.metric_values())
        for run in store.runs():
            if run.stage not in self._stages or not self.graph.exists(run.key):
                self._leftover(run)
                continue
            self._add(run)
            self._order = max(self._order, run.order + 1)
            if run.state == RunState.DONE and run.started_at and run.ended_at:
                self._add_duration(run.stage, run.ended_at - run.started_at)
        for stage_name in self.graph.stage_names:  # a group's run is shown from the start, waiting
            if self.graph.is_group(stage_name):
                for name in self.graph.runs(stage_name):
                    if (stage_name, name) not in self._runs:
                        self._add(Run(stage_name, name))

    def _reconcile(self) -> None:
        """Put every run back in its place after a stop or a crash; re-adopt the running ones."""
        progress: dict[RunKey, Progress] = {}
        for key, run in self._runs.items():
            if run.state.passed:
                progress[key] = Progress.PASSED
            elif run.state in (RunState.FAILED, RunState.CANCELLED):
                progress[key] = Progress.STOPPED
        changes = self.readiness.load(progress)
        touched = self._judge()
        ready = set(changes.ready) | {k for k in touched if self.readiness.is_ready(k)}
        ready = {k for k in ready if self.readiness.is_ready(k)}
        blocked = set(self.readiness.blocked)
        running: list[Run] = []
        for run in list(self._runs.values()):
            key = run.key
            if run.state == RunState.RUNNING:
                if key not in ready:
                    run.rerun = True  # what it needs changed in the config: its result will not count
                running.append(run)
            elif key in blocked:
                self._block(key)
            elif run.state == RunState.BLOCKED:
                self._move(run, RunState.WAITING, "")
            elif run.state == RunState.QUEUED:
                if key in ready:
                    ready.discard(key)
                    self._place_queued(run)
                else:
                    self._move(run, RunState.WAITING, "")
        for key in blocked:
            if key not in self._runs:
                self._block(key)
        order = {k: i for i, k in enumerate(changes.ready)}
        self._apply(Changes([("ready", k) for k in sorted(ready, key=lambda k: order.get(k, len(order)))]))
        for run in running:
            self._readopt(run)

    def _judge(self) -> set[RunKey]:
        """Runs whose result is no longer what the config would make (or whose outputs are gone) run
        again, and so does what consumes them; returns every run that changed."""
        self.recipes.new_turn()
        judged = judge(self.graph, self._runs, self._recipe_of, self._outputs_of, self.config.base_dir)
        for key in judged.unrecorded:  # from before signatures: taken as current, recorded now
            run = self._runs[key]
            self._record_recipe(run, judged.current[key])
            self._save(run)
        for run in self._runs.values():  # stale ones too: their files were made by their recorded recipe
            if run.state.passed:
                self._remember_outputs(run)
        for key, (_category, text) in judged.running.items():  # its result will not count: it runs again after
            run = self._runs[key]
            run.rerun = True
            run.rerun_why = text
        touched: set[RunKey] = set()
        for key, (_category, text) in judged.stale.items():
            run = self._runs[key]
            if run.state == RunState.WAITING:
                continue  # reset already by a run it needs
            run.failures = 0
            self._move(run, RunState.WAITING, f"runs again: {text}")
            changes = self.readiness.set(key, Progress.OPEN)
            touched.add(key)
            for change, other in changes.items:
                touched.add(other)
                target = self._runs.get(other)
                if change == "reset" and target is not None and target.state.passed:
                    target.failures = 0
                    self._move(target, RunState.WAITING, f"runs again: upstream {key[0]}/{key[1]} runs again")
        self.journal.file_hashes(self.recipes.hashes.changed)
        return touched

    def _recipe_of(self, key: RunKey, upstream: list[tuple[str, str]], launch: Launch | None = None) -> Recipe:
        run = self._runs.get(key) or Run(*key)
        return self.recipes.make(key[0], self._target(run)[0], self.graph.params(key), upstream, launch)

    def _outputs_of(self, key: RunKey) -> list[Path]:
        """A run's declared outputs (`done_when`), rendered with its own params (a group's without its
        member list: outputs name the group, and a fan-in of a million members stays cheap)."""
        run = self._runs.get(key)
        attempt = max(run.attempt if run else 1, 1)
        group = self.graph.is_group(key[0])
        task = Task(key[1], self.graph.params(key)) if group else self.graph.tasks[key[1]]  # type: ignore[arg-type]
        return self.attempts.scripters[key[0]].outputs(task, attempt)

    def _current_recipe(self, run: Run, launch: Launch | None = None) -> Recipe:
        upstream = []
        for need in self.graph.needed(run.key):
            done = self._runs.get(need)
            upstream.append(
                (f"{need[0]}/{need[1]}", result_id(done.signature if done else None, done.attempt if done else 0))
            )
        return self._recipe_of(run.key, upstream, launch)

    def _record_recipe(self, run: Run, recipe: Recipe) -> None:
        run.recipe = recipe.to_json()
        run.signature = recipe.signature
        if self.recipes.hashes.changed:  # file hashes made for it: kept for the next start and `coopy plan`
            self.journal.file_hashes(self.recipes.hashes.changed)

    def _leftover(self, run: Run) -> None:
        """A stored run the config no longer has (its configuration was removed, its stage removed or
        renamed): kept in the store and shown as removed; one still running is stopped, and said so."""
        if run.state == RunState.RUNNING and run.handle is not None:
            what = (
                "its stage is no longer in the config"
                if run.stage not in self._stages
                else "its configuration is no longer in the config"
            )
            stop_leftover(run, self.config, self.executors)
            self.journal.attempt(attempt_row(run, RunState.CANCELLED, None, f"stopped: {what}", self.clock()))
            run.state = RunState.CANCELLED
            run.reason = f"stopped: {what}"
            run.ended_at = self.clock()
            self.journal.run(run)
            log.info("stopped %s/%s attempt %d: %s", run.stage, run.name, run.attempt, what)
            self._message(f"stopped {run.stage}/{run.name} (attempt {run.attempt}): {what}", level="warning")
        self._removed.append(run)

    def _readopt(self, run: Run) -> None:
        queue = self._queues[run.stage]
        queue.running.add(run.name)
        if run.resources:
            self._pools.restore(run.key, run.resources)
        if run.handle is None and not self.attempts.find_started(run):
            # crashed between recording "starting" and starting it: it never started
            queue.running.discard(run.name)
            self._pools.release(run.key)
            run.attempt -= 1
            self._move(run, RunState.QUEUED)
            self._place_queued(run)
            return
        self.attempts.adopt(run, self._target(run)[0])

    # ================================================================ views and subscriptions
    def subscribe(self, callback: Subscriber, kinds: frozenset[EventKind] | None = None) -> Callable[[], None]:
        """Call `callback(event)` for every event after this point (of `kinds`, None: all); returns an
        unsubscribe function."""
        return self._events.subscribe(callback, kinds)

    def run_view(self, run: Run) -> RunView:
        key = run.key
        total = self._needs_total.get(key)
        if total is None:
            total = self._needs_total[key] = len(self.graph.needed(key))
        reported = self._metrics.get(key)
        return run_view(run, self.graph, self.readiness, total, reported[1] if reported else None)

    def _removed_view(self, run: Run) -> RunView:
        view = run_view(run, self.graph, self.readiness, 0)
        return dataclasses.replace(view, state=RunState.REMOVED, reason=f"configuration removed ({run.state.value})")

    def stage_view(self, name: str) -> StageView:
        self._check_started()
        return stage_view(
            name, self._index[name], self._queues[name], self._counts[name], self._durations[name], self.graph
        )

    def snapshot(self) -> Snapshot:
        self._check_started()
        return Snapshot(
            seq=self._events.seq,
            pipeline=self.config.pipeline.name,
            tasks=tuple(self.graph.tasks),
            stages=tuple(self.stage_view(s) for s in self.graph.stage_names),
            runs=tuple(self.run_view(r) for r in sorted(self._runs.values(), key=lambda r: r.order))
            + tuple(self._removed_view(r) for r in self._removed if r.stage in self._stages),
            finished=self._finished.is_set(),
            pools=self._pools.view(),
        )

    @property
    def finished(self) -> bool:
        """Nothing queued or running: every run passed or stopped for good."""
        return self._finished.is_set()

    @property
    def task_count(self) -> int:
        return len(self.graph.tasks)

    def summary(self) -> dict[str, Any]:
        self._check_started()
        named = sorted((r for r in self._runs.values() if r.state in NAMED_STATES), key=lambda r: r.order)
        return {
            "pipeline": self.config.pipeline.name,
            "tasks": len(self.graph.tasks),
            "stages": [self.stage_view(s).as_json() for s in self.graph.stage_names],
            "runs": [self.run_view(r).as_json() for r in named],
        }

    def queue_order(self, stage: str) -> list[str]:
        """Queued runs of `stage` in the order they would start."""
        return self._queue(stage).order()

    def attempt_history(self, stage: str, task: str | None = None) -> list[dict[str, Any]]:
        """Ended attempts of a run (or of every run of `stage`), oldest first, from the store: what the
        screens show of earlier attempts (their state, exit code, reason, times and log)."""
        self._queue(stage)
        if task is not None and not isinstance(task, str):
            raise CommandError("task must be a run's name")
        keys = ("task", "stage", "attempt", "state", "exit_code", "reason", "started_at", "ended_at", "log")
        return [dict(zip(keys, row, strict=True)) for row in self.store.attempts_of(stage, task)]

    def all_passed(self) -> bool:
        return all(
            self._counts[s][RunState.DONE.value] + self._counts[s][RunState.SKIPPED.value] == self.graph.run_count(s)
            for s in self.graph.stage_names
        )

    def _notify(self, text: str, level: str) -> None:
        """A hook's news: a MESSAGE event tagged `source = hook` (screens show it as a notification)."""
        self.journal.emit(EventKind.MESSAGE, message=text, level=level, data={"source": "hook"})

    def _message(
        self, text: str, level: str = "info", run: RunView | None = None, data: dict[str, Any] | None = None
    ) -> None:
        self.journal.emit(EventKind.MESSAGE, message=text, level=level, run=run, data=data or {})

    # ================================================================ commands (see commands.Commands)
    def pause(self, stage: str) -> None:
        self._set_stage(stage, paused=True)

    def resume(self, stage: str) -> None:
        self._set_stage(stage, paused=False)
        self._dispatch()

    def toggle_pause(self, stage: str) -> bool:
        paused = not self._queue(stage).paused
        (self.pause if paused else self.resume)(stage)
        return paused

    def set_workers(self, stage: str, workers: int) -> None:
        """Raising starts more at once; lowering lets running ones finish."""
        if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
            raise CommandError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {str(workers)[:30]}")
        self._set_stage(stage, workers=workers)
        self._dispatch()

    def add_workers(self, stage: str, delta: int) -> int:
        """A relative change: N presses of a key give N steps, whatever the view they were made from."""
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise CommandError(f"delta must be a whole number, got {str(delta)[:30]}")
        workers = min(MAX_WORKERS, max(1, self._queue(stage).workers + delta))
        self.set_workers(stage, workers)
        return workers

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None:
        """Resize a resource pool (a list of ids, or an amount); runs holding resources keep them."""
        self._check_open()
        if name not in self._pools.pools:
            raise CommandError(f"no resource pool named {name!r}")
        if not isinstance(size, list) and not (
            isinstance(size, int | float) and not isinstance(size, bool) and 0 <= size <= MAX_POOL_AMOUNT
        ):
            raise CommandError(f"pool {name!r}: an amount from 0 to {MAX_POOL_AMOUNT:g}, got {str(size)[:30]}")
        try:
            self._pools.resize(name, size)
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from None
        self.journal.meta(f"pool:{name}", json.dumps(self._pools.pools[name].spec()))
        self.journal.emit(EventKind.POOL, data=self._pools.view())
        self._dispatch()

    def bump(self, task: str, stage: str, delta: int = 1) -> int:
        """Change a queued run's priority by `delta`; returns the new priority."""
        run = self._queued(task, stage)
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise CommandError(f"delta must be a whole number, got {str(delta)[:30]}")
        return self._set_priority(run, run.priority + delta)

    def top(self, task: str, stage: str) -> int:
        """Move a queued run to the front of its stage's line."""
        run = self._queued(task, stage)
        q = self._queue(stage)
        order = q.order()
        if order and order[0] == task:
            return run.priority
        best = q.top_priority()
        return self._set_priority(run, max(run.priority, best if best is not None else run.priority) + 1)

    def retry(self, task: str, stage: str) -> None:
        """Queue a failed or cancelled run again, with a fresh retry budget; what it blocked waits again."""
        run = self._get(task, stage)
        if run.state == RunState.BLOCKED:
            raise CommandError(f"{stage}/{task} is blocked ({run.reason}): retry that run instead")
        if run.state not in (RunState.FAILED, RunState.CANCELLED):
            raise CommandError(f"{stage}/{task} is {run.state.value}; only failed or cancelled runs can be retried")
        old = run.state.value
        run.failures = 0
        run.not_before = None
        self._move(run, RunState.WAITING, f"retry requested (was {old})")
        self._apply(self.readiness.set(run.key, Progress.OPEN))  # its own verdict first: ready, or blocked
        self._finished.clear()
        self._dispatch()

    def retry_failed(self, stage: str | None = None) -> int:
        """Retry every failed or cancelled run (of one stage, or all); returns how many."""
        if stage is not None:
            self._queue(stage)
        runs = [
            r
            for r in self._runs.values()
            if r.state in (RunState.FAILED, RunState.CANCELLED) and (stage is None or r.stage == stage)
        ]
        for run in runs:
            self.retry(run.name, run.stage)
        return len(runs)

    def cancel(self, task: str, stage: str) -> None:
        """Cancel a waiting or queued run, or stop a running one and its whole process group."""
        run = self._get(task, stage, create=True)
        if run.state in (RunState.QUEUED, RunState.WAITING):
            self._unqueue(run)
            run.ended_at = self.clock()
            self._move(run, RunState.CANCELLED, f"cancelled while {run.state.value}")
            self._apply(self.readiness.set(run.key, Progress.STOPPED))
            self._dispatch()
        elif run.state == RunState.RUNNING:
            self.attempts.cancel(run, "cancelled by user")
        else:
            raise CommandError(
                f"{stage}/{task} is {run.state.value}; only waiting, queued or running runs can be cancelled"
            )

    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str:
        """Add a configuration while the pipeline runs: its runs wait, or start, like any others; a group
        it joins whose result depends on its members runs again."""
        self._check_open()
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
        self.journal.task(name, params, True)
        joined, changes = self.readiness.add_task(task)
        self._needs_total.clear()
        for key in joined:
            if key not in self._runs and self.graph.is_group(key[0]):
                self._add(Run(*key))
                self._save(self._runs[key])
        self.journal.emit(EventKind.TASK_ADDED, task=name)
        self._apply(changes, why=f"configuration {name} joined")
        for key in joined:  # the group runs it joined show one more member
            run = self._runs.get(key)
            if run is not None and self.graph.is_group(key[0]):
                self._save(run)
        self._finished.clear()
        self._dispatch()
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

    # ---------------------------------------------------------------- command helpers
    def _check_started(self) -> None:
        """Views and commands need the state a start loads (a view after shutdown is the last one)."""
        if not self._queues:
            raise RuntimeError("the engine is not running: call `await engine.start()` first")

    def _check_open(self) -> None:
        self._check_started()
        if self._closed:
            raise RuntimeError("the engine was shut down; it takes no more commands")

    def _queue(self, stage: str) -> StageQueue:
        self._check_open()
        try:
            return self._queues[stage]
        except (KeyError, TypeError):
            raise CommandError(f"no stage named {str(stage)[:60]!r}") from None

    def _get(self, task: str, stage: str, create: bool = False) -> Run:
        self._queue(stage)
        key = (stage, task)
        run = self._runs.get(key)
        if run is not None:
            return run
        if not self.graph.exists(key):
            if self.graph.is_group(stage):
                raise CommandError(f"stage {stage!r} has no run named {str(task)[:60]!r}")
            raise CommandError(f"no configuration named {str(task)[:60]!r}")
        if not create:
            raise CommandError(f"{task!r} has not reached stage {stage!r} yet (it waits for the runs it needs)")
        run = Run(stage, task)
        self._add(run)
        return run

    def _queued(self, task: str, stage: str) -> Run:
        run = self._get(task, stage)
        if run.state != RunState.QUEUED:
            raise CommandError(f"{stage}/{task} is {run.state.value}; only queued runs have a place in the line")
        return run

    def _set_priority(self, run: Run, priority: int) -> int:
        if not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:  # stored as a 64-bit SQLite INTEGER
            raise CommandError(f"the priority would be out of range (-{MAX_PRIORITY} to {MAX_PRIORITY})")
        run.priority = priority
        if run.key not in self._delayed:
            self._queues[run.stage].push(run.name, priority, run.order)
        self._save(run)
        return priority

    def _set_stage(self, stage: str, *, paused: bool | None = None, workers: int | None = None) -> None:
        q = self._queue(stage)
        if paused is not None:
            q.paused = paused
        if workers is not None:
            q.workers = workers
        self.journal.stage(StageRow(stage, q.workers, self._stages[stage].workers, q.paused))
        self.journal.emit(EventKind.STAGE, stage=self.stage_view(stage))

    # ================================================================ transitions
    def _add(self, run: Run) -> None:
        self._runs[run.key] = run
        self._counts[run.stage][run.state.value] += 1

    def _move(self, run: Run, state: RunState, reason: str | None = None) -> None:
        if run.state != state:
            counts = self._counts[run.stage]
            counts[run.state.value] -= 1
            counts[state.value] += 1
            run.state = state
        if reason is not None:
            run.reason = reason
        self._save(run)

    def _save(self, run: Run) -> None:
        """Record the run (in this turn's commit) and tell the screens (after it)."""
        if run.stored or run.state != RunState.WAITING:
            self.journal.run(run)
        self.journal.emit_heard(EventKind.RUN, lambda: {"run": self.run_view(run), "stage": self.stage_view(run.stage)})

    def _apply(self, changes: Changes, why: str = "") -> None:
        """Act on what Readiness said, in order; a run skipped on the way adds its own consequences."""
        work = deque(changes.items)
        while work:
            change, key = work.popleft()
            run = self._runs.get(key)
            if change == "ready":
                more = self._make_ready(key)
                if more:
                    work.extend(more.items)
            elif change == "blocked":
                self._block(key)
            elif run is None:
                continue
            elif change == "unblocked":
                if run.state == RunState.BLOCKED:
                    self._move(run, RunState.WAITING, "")
            elif change == "unready":
                if run.state == RunState.QUEUED:
                    self._unqueue(run)
                    self._move(run, RunState.WAITING, f"waits again: {why}" if why else "")
                elif run.state == RunState.RUNNING:
                    run.rerun = True
                    run.rerun_why = run.rerun_why or why
            elif change == "reset":
                if run.state.passed:
                    run.failures = 0
                    self._move(run, RunState.WAITING, f"runs again: {why or 'a run it needs runs again'}")
            elif change == "joined" and run.state == RunState.RUNNING:
                run.rerun = True
                run.rerun_why = run.rerun_why or why

    def _make_ready(self, key: RunKey) -> Changes | None:
        """A run whose needs all passed joins its queue (or is skipped: its outputs are there already)."""
        run = self._runs.get(key)
        if run is None:
            run = Run(*key)
            self._add(run)
        if run.state != RunState.WAITING:
            return None
        if not run.stored and run.attempt == 0 and not run.order:
            run.priority = self._carry_priority(key)
            run.order = self._order
            self._order += 1
        cfg = self._stages[run.stage]
        if cfg.skip_if_done and self._outputs_exist(run):
            run.ended_at = self.clock()
            self._move(run, RunState.SKIPPED, "outputs already exist")
            return self.readiness.set(key, Progress.PASSED)
        self._move(run, RunState.QUEUED)
        self._place_queued(run)
        return None

    def _place_queued(self, run: Run) -> None:
        """Into the line, or behind its retry's backoff."""
        if run.not_before and run.not_before > self.clock():
            self._delay(run)
        else:
            self._queues[run.stage].push(run.name, run.priority, run.order)

    def _unqueue(self, run: Run) -> None:
        self._queues[run.stage].remove(run.name)
        timer = self._delayed.pop(run.key, None)
        if timer is not None:
            timer.cancel()

    def _block(self, key: RunKey) -> None:
        run = self._runs.get(key)
        if run is None:
            run = Run(*key)
            self._add(run)
        if run.state == RunState.RUNNING and (self._hold or key in self.attempts.live):
            run.rerun = True  # its result would not count: it is settled again when its attempt ends
            return
        self._unqueue(run)
        blocker = self.readiness.blocker(key)
        if blocker is None:
            reason = "waits on a run that failed"
        else:
            how = "was cancelled" if self._state_of(blocker) == RunState.CANCELLED else "failed"
            reason = f"waits on {blocker[0]}/{blocker[1]}, which {how}"
        self._move(run, RunState.BLOCKED, reason)

    def _state_of(self, key: RunKey) -> RunState | None:
        run = self._runs.get(key)
        return run.state if run else None

    def _replace(self, run: Run, reason: str) -> None:
        """A run whose attempt no longer counts (a member joined while it ran): wait, queue or block it."""
        key = run.key
        if key in self.readiness.blocked:
            self._block(key)
        elif self.readiness.is_ready(key):
            self._move(run, RunState.WAITING, reason)
            more = self._make_ready(key)
            if more:
                self._apply(more)
        else:
            self._move(run, RunState.WAITING, reason)

    def _carry_priority(self, key: RunKey) -> int:
        """A configuration bumped upstream keeps its lead downstream (the largest lead of what it needs)."""
        base = self._stages[key[0]].priority
        leads = [
            run.priority - self._stages[need[0]].priority
            for need in self.graph.needed(key)
            if (run := self._runs.get(need)) is not None
        ]
        return base + (max(leads) if leads else 0)

    def _outputs_exist(self, run: Run) -> bool:
        """skip_if_done: the outputs are all there and to be trusted (plan.outputs_trusted)."""
        try:
            outputs = self._outputs_of(run.key)
            current = self._current_recipe(run)
            if not outputs or not all(p.exists() for p in outputs):
                return False
            made_from = self._made_from(run)
        except (Exception, SystemExit):  # noqa: BLE001 - a plug-in that fails
            return False
        if not outputs_trusted(outputs, self._made, current.signature, made_from, not self._own_outputs[run.stage]):
            return False
        self._record_recipe(run, current)
        self._remember_outputs(run)
        return True

    def _clearable(self, run: Run) -> list[Path]:
        """The outputs a run may remove before it starts and when it fails: its own, and none of what it is
        made from (a stage that declares its input, or another run's output, as its own keeps it)."""
        if not self._own_outputs[run.stage]:
            return []
        try:
            outputs = self._outputs_of(run.key)
            if not outputs:
                return []
            sources = {str(p) for p in self._made_from(run)}
        except (Exception, SystemExit):  # noqa: BLE001 - a Scripter that fails: nothing is removed for it
            return []
        return [p for p in outputs if str(p) not in sources]

    def _remember_outputs(self, run: Run) -> None:
        """Which recipe made each output file (what skip_if_done trusts)."""
        if run.signature is None:
            return
        try:
            for path in self._outputs_of(run.key):
                self._made[str(path)] = run.signature
        except (Exception, SystemExit):  # noqa: BLE001 - a plug-in that fails
            return

    def _made_from(self, run: Run) -> list[Path]:
        """The files a run's outputs are made from: its declared inputs and what the runs it needs made."""
        paths = input_paths(self.config, self.attempts.scripters[run.stage], self._target(run)[0])
        for need in self.graph.needed(run.key):
            paths.extend(self._outputs_of(need))
        return paths

    def _touch_consumers(self, key: RunKey) -> None:
        """Group runs that wait on `key` show how many of their needs are left: tell the screens."""
        for stage in self.graph.consumer_stages[key[0]]:
            if not self.graph.is_group(stage):
                continue
            seen: set[RunKey] = set()
            for member in self.graph.members(key):
                consumer = self.graph.run_of(stage, member)
                if consumer not in seen:
                    seen.add(consumer)
                    run = self._runs.get(consumer)
                    if run is not None and run.state == RunState.WAITING:
                        self._save(run)

    # ---------------------------------------------------------------- an attempt's end
    def _ended(self, run: Run, ending: Ending) -> None:
        """Called once per attempt (lifecycle.Attempts): record it, then retry, settle or re-place it."""
        if self._closed:
            return
        key = run.key
        cfg = self._stages[run.stage]
        self._tracker.end(key, run.attempt, self._metrics_file(run, ending.state))
        now = self.clock()
        reason = ending.reason
        if ending.state == RunState.FAILED and run.log:
            reason += disk_full_note(Path(run.log))
        self._queues[run.stage].running.discard(run.name)
        self._pools.release(key)
        if ending.transient:
            self._refused_start(run, ending.reason)
            self._dispatch()
            return
        self._refused.pop(key, None)
        self._settled_since_start = True
        self.journal.attempt(attempt_row(run, ending.state, ending.exit_code, reason, now))
        run.exit_code = ending.exit_code
        run.ended_at = now
        if ending.state == RunState.QUEUED:  # stopped with the engine (--stop-running)
            run.handle = None
            self._move(run, RunState.QUEUED, "stopped with the engine; queued again")
            return
        if ending.state == RunState.DONE and run.started_at is not None:
            self._add_duration(run.stage, now - run.started_at)
        if ending.state == RunState.DONE:
            self._remember_outputs(run)
        if ending.state in (RunState.FAILED, RunState.CANCELLED):
            self.attempts.clear_outputs(self._clearable(run))  # a partial output is never trusted
        if ending.state == RunState.FAILED and run.failures < cfg.retries:
            run.failures += 1
            delay = cfg.backoff * 2 ** (run.failures - 1)
            run.not_before = now + delay
            self._move(run, RunState.QUEUED, f"{reason}; retry {run.failures}/{cfg.retries} in {delay:g}s")
            if run.rerun:
                run.rerun = False
                self._move(run, RunState.WAITING)
                self._replace(run, run.reason)
            else:
                self._delay(run)
            self._message(
                f"{run.stage}/{run.name} attempt {run.attempt} failed: {reason} (retrying in {delay:g}s)",
                level="warning",
                run=self.run_view(run),
            )
        elif run.rerun and ending.state != RunState.CANCELLED:
            run.rerun = False
            why = run.rerun_why or "what it is made of changed while it ran"
            run.rerun_why = ""
            self._replace(run, f"runs again: {why} (attempt {run.attempt} {ending.state.value} on the old one)")
        else:
            run.rerun = False
            self._move(run, ending.state, reason)
            self._owe_hook(run, ending.state, ending.exit_code, reason)
            passed = ending.state == RunState.DONE
            self._apply(self.readiness.set(key, Progress.PASSED if passed else Progress.STOPPED))
            if passed:
                self._touch_consumers(key)
            if ending.state == RunState.FAILED:
                self._message(
                    f"{run.stage}/{run.name} attempt {run.attempt} failed: {reason}",
                    level="error",
                    run=self.run_view(run),
                )
        self._dispatch()

    # ---------------------------------------------------------------- metrics (metrics.py reads them)
    def _metrics_reported(self, key: RunKey, attempt: int, rows: list[MetricRow]) -> None:
        """New numbers from a run: into this turn's commit, and to the screens with the run's view."""
        run = self._runs.get(key)
        if run is None or run.attempt != attempt or self._closed:
            return
        known = self._metrics.get(key)
        if known is None or known[0] != attempt:  # a new attempt's numbers replace the last one's
            known = self._metrics[key] = (attempt, {})
        for row in rows:
            known[1][row.name] = row.value
        self.journal.metrics(rows)
        self.journal.emit_heard(EventKind.RUN, lambda: {"run": self.run_view(run), "stage": self.stage_view(run.stage)})

    def _metrics_file(self, run: Run, state: RunState) -> Path | None:
        """The stage's `metrics` file for this attempt: read when it is done (a missing one is said in
        its log), or when it is there anyway."""
        template = self._stages[run.stage].metrics
        if template is None or state == RunState.QUEUED:
            return None
        task = self._target(run)[0]
        values = placeholder_values(task, run.stage, run.attempt)
        cfg = self._stages[run.stage]
        try:
            cwd = self.config.base_dir / (templates.render(cfg.cwd, values) if cfg.cwd else "")
            path = cwd / templates.render(template, values)
        except templates.TemplateError:
            return None
        return path if state == RunState.DONE or path.exists() else None

    def metric_series(self, task: str, stage: str, name: str | None = None) -> dict[str, list[list[float]]]:
        """A run's metric series, [[step, value], ...] per name (or only `name`), of its latest attempt."""
        run = self._get(task, stage)
        live = self._tracker.live.get(run.key)
        if live is not None and live[0] == run.attempt and live[1].series:
            series = {n: [list(p) for p in s.points] for n, s in live[1].series.items()}
        else:
            series = {row[2]: row[6] for row in self.store.metric_series(stage, task)}
        return {n: points for n, points in series.items() if name is None or n == name}

    def results(
        self, group_by: list[str] | None = None, sort: str | None = None, stage: str | None = None
    ) -> dict[str, Any]:
        """The results table (results.py) from the engine's own view: one row per configuration (or per
        run of `stage`), grouped and sorted as asked."""
        from coopy_core.report import results

        if stage is not None:
            self._queue(stage)
        metrics = {key: values for key, (_attempt, values) in self._metrics.items()}
        states = {key: run.state for key, run in self._runs.items()}
        try:
            table = results.build(self.graph, self.config.stage_names, states, metrics, stage=stage)
            table = results.arrange(table, group_by=group_by or [], sort=sort)
        except results.ResultsError as exc:
            raise CommandError(str(exc)) from None
        return results.as_json(table)

    def _refused_start(self, run: Run, reason: str) -> None:
        """The machine refused the start (out of descriptors, processes, memory, space): not the run's failure.
        It never ran: the same attempt waits a short backoff in its queue, its retries untouched."""
        n = self._refused[run.key] = self._refused.get(run.key, 0) + 1
        first, most = REFUSED_BACKOFF
        delay = min(most, first * 2 ** (n - 1))
        now = self.clock()
        run.attempt -= 1
        run.handle = None
        run.started_at = None
        run.rerun = False  # nothing ran: the next start takes the members as they are then
        run.not_before = now + delay
        self._move(run, RunState.QUEUED, f"{reason}; trying again in {delay:g}s (not counted as a failure)")
        self._delay(run)
        if now - self._refused_said >= REFUSED_NOTE_EVERY:
            self._refused_said = now
            self._message(
                f"{run.stage}/{run.name} could not start: {reason}; runs the machine refuses wait and try again "
                "(not counted as failures)",
                level="warning",
                run=self.run_view(run),
                data={"source": "machine"},
            )

    def _owe_hook(self, run: Run, state: RunState, code: int | None, reason: str) -> None:
        cfg = self._stages[run.stage]
        hook = cfg.on_done if state == RunState.DONE else cfg.on_failed if state == RunState.FAILED else None
        if not hook or self._hooks is None:
            return
        values = placeholder_values(self._target(run)[0], run.stage, run.attempt)
        values.update(state=state.value, exit_code="" if code is None else code, reason=reason, log=run.log)
        event = "on_done" if state == RunState.DONE else "on_failed"
        what = f"{event} {run.stage}/{run.name}"
        self._hooks.owe(f"{event}.{run.stage}.{run.name}.{run.attempt}", hook, values, what)

    def _delay(self, run: Run) -> None:
        assert self._loop is not None
        delay = max(0.0, (run.not_before or 0.0) - self.clock())
        self._delayed[run.key] = self._loop.call_later(delay, self._release, run.key)

    def _release(self, key: RunKey) -> None:
        self._delayed.pop(key, None)
        run = self._runs.get(key)
        if run is None or run.state != RunState.QUEUED or self._closed:
            return
        run.not_before = None
        self._save(run)
        self._queues[run.stage].push(run.name, run.priority, run.order)
        self._dispatch()

    def _add_duration(self, stage: str, seconds: float) -> None:
        total, n = self._durations[stage]
        self._durations[stage] = (total + seconds, n + 1)

    def _check_finished(self) -> None:
        busy = any(c[RunState.QUEUED.value] or c[RunState.RUNNING.value] for c in self._counts.values())
        if busy:
            self._finished.clear()
        elif not self._finished.is_set():
            self._finished.set()
            passed = self.all_passed()
            if self._settled_since_start and self.config.pipeline.on_finished and self._hooks is not None:
                n = self.store.count_hooks("on_finished.") + 1
                values = {"pipeline": self.config.pipeline.name, "state": "passed" if passed else "failed"}
                self._hooks.owe(f"on_finished.{n}", self.config.pipeline.on_finished, values, "on_finished")
            self.journal.emit(
                EventKind.FINISHED, message="all configurations passed" if passed else "finished with failures"
            )

    # ================================================================ dispatch
    def _dispatch(self) -> None:
        """Start every queued run that has a free worker (and its pool resources): a loop until nothing
        more can start, so a start that fails at once frees its worker for the next in the same turn."""
        if self._closed or not self._started or self._hold:
            return
        if self._dispatching:
            self._again = True
            return
        self._dispatching = True
        self.recipes.new_turn()  # code files are looked at again: once per turn, not once per run
        try:
            while True:
                self._again = False
                if self._store_error is None:
                    picks = self._pick()
                    if picks:
                        if not self.journal.commit():  # a run is durable as "starting" before it starts
                            self._unpick(picks)
                            break
                        for pick in picks:
                            self.attempts.start(
                                pick.run,
                                pick.task,
                                pick.allocation,
                                pick.header,
                                pick.members,
                                pick.launch,
                                self._clearable(pick.run),
                            )
                if not self._again:
                    break
        finally:
            self._dispatching = False
        self._check_finished()

    def _pick(self) -> list[_Pick]:
        picks: list[_Pick] = []
        for name in reversed(self.graph.order):  # downstream first: a hand-off waits for no other spawn
            if self._stages[name].resources:
                continue
            q = self._queues[name]
            while q.has_free_worker():
                task = q.pop()
                if task is None:
                    break
                picks.append(self._prepare(self._runs[(name, task)], None))
        if self._pools:
            picks += self._pick_with_resources()
        return picks

    def _pick_with_resources(self) -> list[_Pick]:
        """Stages that ask for pool resources: the run that has waited longest is served first, and a
        pool it cannot get yet is held back for it — so a 2-GPU run is never overtaken forever by
        1-GPU runs of other stages (no backfill: a little idle capacity buys the no-starvation promise)."""
        picks: list[_Pick] = []
        while True:
            heads = []
            for name in self.graph.stage_names:
                q = self._queues[name]
                if self._stages[name].resources and q.has_free_worker():
                    task = q.peek()
                    if task is not None:
                        heads.append((self._runs[(name, task)].order, name, task))
            reserved: set[str] = set()
            picked = False
            for _order, name, task in sorted(heads):
                request = self._stages[name].resources
                if reserved & set(request):
                    continue
                if self._pools.can_serve(request):
                    self._queues[name].pop()
                    allocation = self._pools.allocate((name, task), request)
                    picks.append(self._prepare(self._runs[(name, task)], allocation))
                    picked = True
                    break  # caps and pools changed: look again
                reserved |= set(request)
            if not picked:
                return picks

    def _prepare(self, run: Run, allocation: Allocation | None) -> _Pick:
        """Record the run as running ("starting": after a crash the restart looks for its process)."""
        self._queues[run.stage].running.add(run.name)
        note = run.reason if run.reason.startswith("runs again") else ""  # said in its log (retries are not)
        before = (run.started_at, run.ended_at, run.exit_code, run.log, run.recipe, run.signature, run.reason)
        run.attempt += 1
        run.started_at = self.clock()
        run.ended_at = None
        run.exit_code = None
        run.not_before = None
        run.handle = None
        run.resources = dict(allocation) if allocation else None
        run.log = str(self.attempts.log_path(run))
        task, header, members = self._target(run, note)
        launch = None
        try:
            if run.attempt == 1:
                launch = self.attempts.scripters[run.stage].script(task, 1)
            self._record_recipe(run, self._current_recipe(run, launch))
        except (Exception, SystemExit):  # noqa: BLE001 - a Scripter that fails: the attempt fails when it starts
            run.recipe = None
            run.signature = SCRIPTER_FAILED  # judged again at the next start: it runs once the Scripter works
            launch = None
        self._move(run, RunState.RUNNING, "")
        return _Pick(run, task, allocation, header, members, launch, before)

    def _unpick(self, picks: list[_Pick]) -> None:
        """The store could not record them as starting: they go back to the line, unstarted."""
        for pick in picks:
            run = pick.run
            self._queues[run.stage].running.discard(run.name)
            self._pools.release(run.key)
            run.attempt -= 1
            run.started_at, run.ended_at, run.exit_code, run.log = pick.before[:4]
            run.recipe, run.signature = pick.before[4:6]
            run.resources = None
            self._move(run, RunState.QUEUED, pick.before[6])
            self._queues[run.stage].push(run.name, run.priority, run.order)

    def _target(self, run: Run, note: str = "") -> tuple[Task, str, dict[str, Any] | None]:
        """What a run is over (its configuration, or its group and members), its log header, and for a
        group the document COOPY_MEMBERS names."""
        key = run.key
        header = f"coopy: {run.stage}/{run.name} attempt {run.attempt}: {note}" if note else ""
        if not self.graph.is_group(run.stage):
            return self.graph.tasks[run.name], header, None
        every = self.graph.members(key)
        usable = self.readiness.usable_members(key) if self._stages[run.stage].allow_failed else every
        members = tuple(self.graph.tasks[m] for m in usable)
        task = Task(run.name, self.graph.params(key), members)  # type: ignore[arg-type]
        left_out = [m for m in every if m not in set(usable)] if len(usable) != len(every) else []
        line = f"coopy: {run.stage}/{run.name} attempt {run.attempt}: {len(usable)} of {len(every)} members"
        if left_out:
            line += f" ({len(left_out)} left out: what they need failed: {', '.join(left_out[:5])}"
            line += ", ...)" if len(left_out) > 5 else ")"
        header = line + (f"\n{header}" if header else "")
        doc = {
            "stage": run.stage,
            "run": run.name,
            "attempt": run.attempt,
            "params": dict(task.params),
            "members": [{"task": m.name, "params": dict(m.params)} for m in members],
            "total": len(every),
            "left_out": left_out,
        }
        return task, header, doc

    # ================================================================ a store that cannot be written
    def _store_failed(self, why: str) -> None:
        self._store_error = why
        self.journal.say(
            EventKind.MESSAGE,
            message=f"the state store cannot be written ({why}): nothing new starts; running commands go on; "
            f"trying again every {COMMIT_RETRY:g}s",
            level="error",
            data={"source": "store"},
        )
        self._schedule_commit()

    def _schedule_commit(self) -> None:
        if self._loop is not None and not self._closed:
            self._commit_timer = self._loop.call_later(COMMIT_RETRY, self._retry_commit)

    def _retry_commit(self) -> None:
        self._commit_timer = None
        if not self._closed and not self.journal.commit():
            self._schedule_commit()

    def _store_recovered(self) -> None:
        self._store_error = None
        self.journal.say(
            EventKind.MESSAGE,
            message="the state store can be written again; starting runs again",
            data={"source": "store"},
        )
        if self._loop is not None:
            self._loop.call_soon(self._dispatch)
