"""Dispatch: which queued runs start now (`select`, a pure function of the queues' heads and the pools) and
the loop that starts them (`Dispatch.run`: until nothing more can start, never recursion).

A run is recorded as running and the batch committed before its process starts, so a crash from here on
finds it again by its run id; a commit that fails puts the picked runs back in their lines, unstarted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from coopy_core.engine.book import Book
from coopy_core.engine.outputs import Outputs
from coopy_core.lifecycle.attempts import Attempts
from coopy_core.model import Run, RunState
from coopy_core.plan.signature import SCRIPTER_FAILED, Recipes
from coopy_core.resources import Allocation, Pools
from coopy_core.scripter import Launch
from coopy_core.tasks import Task

MAX_CONTESTED = 16  # GPU claims lost to other pipelines in one turn before it waits for the next poll


@dataclasses.dataclass(frozen=True, slots=True)
class Head:
    """The first queued run of a stage that asks for pool resources and has a free worker."""

    order: int  # when it joined its queue: who waited longest
    stage: str
    task: str
    request: Mapping[str, float]  # pool name -> amount


class CanServe(Protocol):
    def can_serve(self, request: Mapping[str, float]) -> bool: ...


def select(heads: Sequence[Head], pools: CanServe) -> Head | None:
    """The head to serve next: the one that has waited longest among those the pools can serve now, where a
    pool an older head cannot get yet is held back for it — so a 2-GPU run is never overtaken forever by
    1-GPU runs of other stages (no backfill: a little idle capacity buys the no-starvation promise)."""
    reserved: set[str] = set()
    for head in sorted(heads, key=lambda h: (h.order, h.stage, h.task)):
        if reserved & set(head.request):
            continue
        if pools.can_serve(head.request):
            return head
        reserved |= set(head.request)
    return None


@dataclasses.dataclass(slots=True)
class Pick:
    """A run chosen to start, with what its start needs."""

    run: Run
    task: Task
    allocation: Allocation | None
    header: str
    members: dict[str, Any] | None
    launch: Launch | None  # the Scripter's answer for attempt 1, asked once for the recipe
    before: tuple[Any, ...]  # what the start changed on the run, for `unpick`


class Dispatch:
    def __init__(
        self,
        book: Book,
        pools: Pools,
        outputs: Outputs,
        recipes: Recipes,
        attempts: Attempts,
        after: Callable[[], None],
    ) -> None:
        self.book = book
        self.graph = book.graph
        self.pools = pools
        self.outputs = outputs
        self.recipes = recipes
        self.attempts = attempts
        self.after = after  # after every dispatch: is the pipeline finished?
        self._dispatching = False
        self._again = False

    def run(self) -> None:
        """Start every queued run that has a free worker (and its pool resources): a loop until nothing
        more can start, so a start that fails at once frees its worker for the next in the same turn."""
        flags = self.book.flags
        if flags.closed or not flags.started or flags.hold or flags.halted:
            return
        if self._dispatching:
            self._again = True
            return
        self._dispatching = True
        self.recipes.new_turn()  # code files are looked at again: once per turn, not once per run
        try:
            while True:
                self._again = False
                if flags.store_error is None:
                    picks = self._pick()
                    if picks and flags.halted:  # a stop arrived while the picks were prepared (a big input hashed)
                        self._unpick(picks)
                        break
                    if picks:
                        if not self.book.journal.commit():  # a run is durable as "starting" before it starts
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
                                self.outputs.clearable(pick.run),
                            )
                if not self._again:
                    break
        finally:
            self._dispatching = False
        self.after()

    def _pick(self) -> list[Pick]:
        book = self.book
        picks: list[Pick] = []
        for name in reversed(self.graph.order):  # downstream first: a hand-off waits for no other spawn
            if book.stages[name].resources:
                continue
            q = book.queues[name]
            while q.has_free_worker():
                task = q.pop()
                if task is None:
                    break
                picks.append(self._prepare(book.runs[(name, task)], None))
        if self.pools:
            picks += self._pick_with_resources()
        return picks

    def _pick_with_resources(self) -> list[Pick]:
        """Stages that ask for pool resources, one run at a time as `select` says (caps and pools change)."""
        book = self.book
        picks: list[Pick] = []
        contested = 0
        while True:
            heads = []
            for name in self.graph.stage_names:
                q = book.queues[name]
                request = book.stages[name].resources
                if request and q.has_free_worker():
                    task = q.peek()
                    if task is not None:
                        heads.append(Head(book.runs[(name, task)].order, name, task, request))
            head = select(heads, self.pools)
            if head is None:
                self._say_waiting(heads)
                return picks
            allocation = self.pools.allocate((head.stage, head.task), head.request)
            if allocation is None:  # another pipeline claimed that GPU at the same moment: it is seen now
                contested += 1
                if contested > MAX_CONTESTED:
                    return picks
                continue
            book.queues[head.stage].pop()
            picks.append(self._prepare(book.runs[(head.stage, head.task)], allocation))

    def _say_waiting(self, heads: list[Head]) -> None:
        """A run waiting for GPUs read from NVML says what it waits for (its reason until it starts)."""
        if self.pools.gpu_plan is None:
            return
        for head in heads:
            text = self.pools.waiting_for(head.request)
            run = self.book.runs[(head.stage, head.task)]
            if text and run.reason != text and (not run.reason or run.reason.startswith("waiting for")):
                run.reason = text
                self.book.save(run)

    def _prepare(self, run: Run, allocation: Allocation | None) -> Pick:
        """Record the run as running ("starting": after a crash the restart looks for its process)."""
        book = self.book
        book.queues[run.stage].running.add(run.name)
        note = run.reason if run.reason.startswith("runs again") else ""  # said in its log (retries are not)
        before = (run.started_at, run.ended_at, run.exit_code, run.log, run.recipe, run.signature, run.reason)
        run.attempt += 1
        run.started_at = book.clock()
        run.ended_at = None
        run.exit_code = None
        run.not_before = None
        run.handle = None
        run.resources = dict(allocation) if allocation else None
        run.log = str(self.attempts.log_path(run))
        task, header, members = self.outputs.target_to_start(run, note)
        launch = None
        try:
            if run.attempt == 1:
                launch = self.attempts.scripters[run.stage].script(task, 1)
            self.outputs.record_recipe(run, self.outputs.current_recipe(run, launch))
        except (Exception, SystemExit):  # noqa: BLE001 - a Scripter that fails: the attempt fails when it starts
            run.recipe = None
            run.signature = SCRIPTER_FAILED  # judged again at the next start: it runs once the Scripter works
            launch = None
        book.move(run, RunState.RUNNING, "")
        return Pick(run, task, allocation, header, members, launch, before)

    def _unpick(self, picks: list[Pick]) -> None:
        """The store could not record them as starting: they go back to the line, unstarted."""
        book = self.book
        for pick in picks:
            run = pick.run
            book.queues[run.stage].running.discard(run.name)
            self.pools.release(run.key)
            run.attempt -= 1
            run.started_at, run.ended_at, run.exit_code, run.log = pick.before[:4]
            run.recipe, run.signature = pick.before[4:6]
            run.resources = None
            book.move(run, RunState.QUEUED, pick.before[6])
            book.queues[run.stage].push(run.name, run.priority, run.order)
