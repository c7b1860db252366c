"""At start: load the store, judge what is stale, and put every run back in its place after a stop or a crash
(re-adopt the running ones, stop the leftovers of what the config removed) before anything is dispatched."""

from __future__ import annotations

import json
import logging

from coopy_core.config import Config
from coopy_core.engine.book import Book
from coopy_core.engine.outputs import Outputs
from coopy_core.engine.queues import StageQueue
from coopy_core.engine.settle import Settle
from coopy_core.executors import Executors
from coopy_core.graph import Changes, Progress, RunKey
from coopy_core.lifecycle.attempts import Attempts, stop_leftover
from coopy_core.lifecycle.metrics import last_values
from coopy_core.model import Run, RunState
from coopy_core.plan.judge import judge
from coopy_core.plan.signature import Recipes
from coopy_core.plan.targets import left_in_place, progress_of
from coopy_core.resources import Pools
from coopy_core.state.store import StageRow, Store, attempt_row
from coopy_core.tasks import Task

log = logging.getLogger("coopy.engine")


class Reconcile:
    def __init__(
        self,
        config: Config,
        store: Store,
        book: Book,
        settle: Settle,
        outputs: Outputs,
        recipes: Recipes,
        attempts: Attempts,
        executors: Executors,
        pools: Pools,
    ) -> None:
        self.config = config
        self.store = store
        self.book = book
        self.graph = book.graph
        self.readiness = book.readiness
        self.settle = settle
        self.outputs = outputs
        self.recipes = recipes
        self.attempts = attempts
        self.executors = executors
        self.pools = pools

    def load(self) -> None:
        store, journal, book = self.store, self.book.journal, self.book
        stored_tasks = store.tasks()
        known = {name: params for name, params, _added in stored_tasks}
        for task in self.config.tasks:  # the configuration itself: its params dict is made as it is written
            stored_params = known.get(task.name)
            if stored_params is None:
                journal.task(task, False)
            elif stored_params != task.params:
                journal.task_params(task.name, task.params)  # its runs are judged against the new ones
        for name, params, added in stored_tasks:
            if added and name not in self.graph.tasks:
                try:
                    self.graph.add_task(Task(name, params))
                except ValueError as exc:
                    log.warning("configuration %s, added at run time, no longer fits the config: %s", name, exc)
        rows = store.stages()
        for stage in self.config.stages:
            stored_row = rows.get(stage.name)
            row = (
                stored_row.against(stage.workers)
                if stored_row
                else StageRow(stage.name, stage.workers, stage.workers, False)
            )
            if row is not stored_row:
                journal.stage(row)
            book.queues[stage.name] = StageQueue(stage.name, row.workers, row.paused)
        for name, spec in self.config.pools.items():
            stored = store.get_meta(f"pool:{name}")
            if stored is not None and store.get_meta(f"poolcfg:{name}") == json.dumps(spec):
                self.pools.resize(name, json.loads(stored))  # resized at run time; the config is unchanged
            else:
                journal.meta(f"pool:{name}", json.dumps(spec))
                journal.meta(f"poolcfg:{name}", json.dumps(spec))
        book.metrics = last_values(store.metric_values())
        runs = store.runs()
        kept = [r for r in runs if r.stage in book.stages and self.graph.exists(r.key)]
        passed = store.passed_last(left_in_place(kept))  # judged by their recipe below, as passed runs
        shift = self._priority_shifts()
        for run in runs:
            if run.stage not in book.stages or not self.graph.exists(run.key):
                self._leftover(run)
                continue
            if run.key in passed:
                run.state, run.reason = RunState.DONE, ""
                book.journal.run(run)  # recorded, told to no one: nothing ran
            if shift.get(run.stage):
                run.priority += shift[run.stage]
                journal.run(run)
            book.add(run)
            book.order = max(book.order, run.order + 1)
            if run.state == RunState.DONE and run.started_at and run.ended_at:
                book.add_duration(run.stage, run.ended_at - run.started_at)
        for stage_name in self.graph.stage_names:  # a group's run is shown from the start, waiting
            if self.graph.is_group(stage_name):
                for name in self.graph.runs(stage_name):
                    if (stage_name, name) not in book.runs:
                        book.add(Run(stage_name, name))

    def _priority_shifts(self) -> dict[str, int]:
        """A stage's `priority` edited in the config moves its stored runs by as much: the edit takes effect, and
        what `bump` / `top` gave a run at run time stays as a lead over the new default."""
        shifts: dict[str, int] = {}
        for stage in self.config.stages:
            key = f"priority:{stage.name}"
            stored = self.store.get_meta(key)
            if stored is not None and stored.lstrip("-").isdigit() and int(stored) != stage.priority:
                shifts[stage.name] = stage.priority - int(stored)
            if stored != str(stage.priority):
                self.book.journal.meta(key, str(stage.priority))
        return shifts

    def reconcile(self) -> None:
        """Put every run back in its place after a stop or a crash; re-adopt the running ones."""
        book, readiness = self.book, self.readiness
        changes = readiness.load(progress_of(book.runs.values()))
        touched = self._judge()
        # May start now: `readiness.is_ready`, asked per run instead of a set of every ready key (a million at a
        # fresh start); each becomes queued once: `placed` holds the ones already put in their line.
        is_ready = readiness.is_ready
        placed: set[RunKey] = set()
        blocked = set(readiness.blocked)
        running: list[Run] = []
        for run in list(book.runs.values()):
            key = run.key
            if run.state == RunState.RUNNING:
                if not is_ready(key):
                    run.rerun = True  # what it needs changed in the config: its result will not count
                running.append(run)
            elif key in blocked:
                self.settle.block(key)
            elif run.state == RunState.BLOCKED:
                book.move(run, RunState.WAITING, "")
            elif run.state == RunState.QUEUED:
                if is_ready(key):
                    placed.add(key)
                    book.place_queued(run)
                else:
                    book.move(run, RunState.WAITING, "")
        for key in blocked:
            if key not in book.runs:
                self.settle.block(key)
        # in the order readiness found them, then the ones the judge made ready (no index or sort of a million)
        found = [item for item in changes.items if item[0] == "ready" and item[1] not in placed and is_ready(item[1])]
        placed.update(item[1] for item in found if item[1] in touched)
        found.extend(("ready", key) for key in touched if key not in placed and is_ready(key))
        self.settle.apply(Changes(found))
        for run in running:
            self._readopt(run)

    def _judge(self) -> set[RunKey]:
        """Runs whose result is no longer what the config would make (or whose outputs are gone) run
        again, and so does what consumes them; returns every run that changed."""
        book, outputs = self.book, self.outputs
        self.recipes.new_turn()
        judged = judge(self.graph, book.runs, outputs.recipe_of, outputs.outputs_of, self.config.base_dir)
        for key in judged.unrecorded:  # from before signatures: taken as current, recorded now
            run = book.runs[key]
            outputs.record_recipe(run, judged.current[key])
            book.save(run)
        for run in book.runs.values():  # stale ones too: their files were made by their recorded recipe
            if run.state.passed:
                outputs.remember(run)
        for key, (_category, text) in judged.running.items():  # its result will not count: it runs again after
            run = book.runs[key]
            run.rerun = True
            run.rerun_why = text
        touched: set[RunKey] = set()
        for key, (_category, text) in judged.stale.items():
            run = book.runs[key]
            if run.state == RunState.WAITING:
                continue  # reset already by a run it needs
            run.failures = 0
            book.move(run, RunState.WAITING, f"runs again: {text}")
            changes = self.readiness.set(key, Progress.OPEN)
            touched.add(key)
            for change, other in changes.items:
                touched.add(other)
                target = book.runs.get(other)
                if change == "reset" and target is not None and target.state.passed:
                    target.failures = 0  # the judge's reason names the run it needs itself, as `coopy plan` does
                    why = judged.stale.get(other, ("", f"upstream {key[0]}/{key[1]} runs again"))[1]
                    book.move(target, RunState.WAITING, f"runs again: {why}")
        book.journal.file_hashes(self.recipes.hashes.changed)
        return touched

    def _leftover(self, run: Run) -> None:
        """A stored run the config no longer has (its configuration was removed, its stage removed or
        renamed): kept in the store and shown as removed; one still running is stopped, and said so."""
        book = self.book
        if run.state == RunState.RUNNING and run.handle is not None:
            what = (
                "its stage is no longer in the config"
                if run.stage not in book.stages
                else "its configuration is no longer in the config"
            )
            stop_leftover(run, self.config, self.executors)
            now = book.clock()
            book.journal.attempt(attempt_row(run, RunState.CANCELLED, None, f"stopped: {what}", now))
            run.state = RunState.CANCELLED
            run.reason = f"stopped: {what}"
            run.ended_at = book.clock()
            book.journal.run(run)
            log.info("stopped %s/%s attempt %d: %s", run.stage, run.name, run.attempt, what)
            book.message(f"stopped {run.stage}/{run.name} (attempt {run.attempt}): {what}", level="warning")
        book.removed.append(run)

    def _readopt(self, run: Run) -> None:
        book = self.book
        queue = book.queues[run.stage]
        queue.running.add(run.name)
        if run.resources:
            self.pools.restore(run.key, run.resources)
        if self.attempts.unstarted(run) and not self.attempts.find_started(run):
            # crashed between recording "starting" and starting it: it never started
            queue.running.discard(run.name)
            self.pools.release(run.key)
            run.attempt -= 1
            book.move(run, RunState.QUEUED)
            book.place_queued(run)
            return
        self.attempts.adopt(run, self.outputs.target(run))
