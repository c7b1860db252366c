"""Ending an attempt: named rules in a declared order (as Prefect's orchestration policies).

`Endings.end` frees the attempt's worker and pool resources, then runs `RULES` in order; each rule looks at
the ended attempt and either lets the next rule look too (it returns False) or ends the handling (True):

  refused_start        the machine refused the start: the same attempt waits a short backoff, not counted
  record_attempt       the attempt's row, exit code and end time (every ending below is recorded)
  stopped_with_engine  `--stop-running`: back to the queue, nothing settles
  keep_outputs         what a done run made is remembered; a failed run's partial outputs are removed
  retry                a failure with retries left waits its backoff (or waits again if it must re-run)
  rerun                what it is made of changed while it ran: it runs again, its result does not count
  settle               the run takes its final state
  hooks                on_done / on_failed is owed, in the same commit
  notes                a run failed for good: its notification is owed (`notify`), in the same commit
  tell_readiness       Readiness is told; what may start now joins its queue; a failure is said

After the rules, `end` dispatches (unless a rule said nothing may start now): the path of a run goes
lifecycle -> these rules -> settle -> dispatch, each once, without passing through the facade.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from coopy_core.config import StageConfig
from coopy_core.engine.book import Book
from coopy_core.engine.outputs import Outputs
from coopy_core.engine.settle import Settle
from coopy_core.graph import Progress, RunKey
from coopy_core.lifecycle import notes as notifications
from coopy_core.lifecycle.files import disk_full_note
from coopy_core.lifecycle.hooks import HookRunner
from coopy_core.lifecycle.live import Ending
from coopy_core.lifecycle.metrics import MetricsTracker
from coopy_core.model import Run, RunState
from coopy_core.resources import Pools
from coopy_core.scripter import placeholder_values
from coopy_core.state.store import attempt_row

REFUSED_BACKOFF = (1.0, 30.0)  # a start the machine refused waits 1 s, doubling per refusal in a row, at most 30 s
REFUSED_NOTE_EVERY = 10.0  # seconds: one message for a wave of refused starts, not one per run


@dataclasses.dataclass
class Ended:
    """One attempt's end as the rules see it."""

    run: Run
    ending: Ending
    cfg: StageConfig
    now: float
    reason: str  # the ending's reason, with a full disk said
    dispatch: bool = True  # whether anything may start now


Rule = Callable[["Endings", Ended], bool]


class Endings:
    def __init__(
        self,
        book: Book,
        settle: Settle,
        outputs: Outputs,
        clear_outputs: Callable[[Sequence[Path]], str],
        pools: Pools,
        tracker: MetricsTracker,
        hooks: HookRunner | None,
        on_settled: Callable[[], None],
        dispatch: Callable[[], None],
    ) -> None:
        self.book = book
        self.settle = settle
        self.outputs = outputs
        self.clear_outputs = clear_outputs  # lifecycle's: removes a run's own outputs, never a folder it lives in
        self.pools = pools
        self.tracker = tracker
        self.hooks = hooks
        self.on_settled = on_settled  # a run ended for real in this session (the pipeline's end is then news)
        self.refused: dict[RunKey, int] = {}  # starts the machine refused in a row, per run
        self.refused_said = -math.inf
        self.dispatch = dispatch  # what may start now starts (dispatch.Dispatch.run)

    def end(self, run: Run, ending: Ending) -> None:
        """Called once per attempt (lifecycle.Attempts): the rules in order, then dispatch."""
        book = self.book
        if book.flags.closed:
            return
        key = run.key
        self.tracker.end(key, run.attempt, self.outputs.metrics_file(run, ending.state))
        now = book.clock()
        reason = ending.reason
        if ending.state == RunState.FAILED and run.log:
            reason += disk_full_note(Path(run.log))
        book.queues[run.stage].running.discard(run.name)
        self.pools.release(key)
        ended = Ended(run, ending, book.stages[run.stage], now, reason)
        for rule in RULES:
            if rule(self, ended):
                break
        if ended.dispatch:
            self.dispatch()


# ---------------------------------------------------------------- the rules, in order
def refused_start(x: Endings, e: Ended) -> bool:
    """The machine refused the start (out of descriptors, processes, memory, space): not the run's failure.
    It never ran: the same attempt waits a short backoff in its queue, its retries untouched."""
    if not e.ending.transient:
        x.refused.pop(e.run.key, None)
        return False
    run, book = e.run, x.book
    n = x.refused[run.key] = x.refused.get(run.key, 0) + 1
    first, most = REFUSED_BACKOFF
    delay = min(most, first * 2 ** min(n - 1, 32))  # the exponent capped too: 2**1024 is no float
    now = book.clock()
    run.attempt -= 1
    run.handle = None
    run.started_at = None
    run.rerun = False  # nothing ran: the next start takes the members as they are then
    run.not_before = now + delay
    book.move(run, RunState.QUEUED, f"{e.ending.reason}; trying again in {delay:g}s (not counted as a failure)")
    book.delay(run)
    if now - x.refused_said >= REFUSED_NOTE_EVERY:
        x.refused_said = now
        book.message(
            f"{run.stage}/{run.name} could not start: {e.ending.reason}; runs the machine refuses wait and try "
            "again (not counted as failures)",
            level="warning",
            run=book.run_view(run),
            data={"source": "machine"},
        )
    return True


def record_attempt(x: Endings, e: Ended) -> bool:
    x.on_settled()
    run = e.run
    x.book.journal.attempt(attempt_row(run, e.ending.state, e.ending.exit_code, e.reason, e.now))
    run.exit_code = e.ending.exit_code
    run.ended_at = e.now
    return False


def stopped_with_engine(x: Endings, e: Ended) -> bool:
    if e.ending.state != RunState.QUEUED:
        return False
    e.run.handle = None
    x.book.move(e.run, RunState.QUEUED, "stopped with the engine; queued again")
    e.dispatch = False
    return True


def keep_outputs(x: Endings, e: Ended) -> bool:
    run, state = e.run, e.ending.state
    if state == RunState.DONE and run.started_at is not None:
        x.book.add_duration(run.stage, e.now - run.started_at)
    if state == RunState.DONE:
        x.outputs.remember(run)
    if state in (RunState.FAILED, RunState.CANCELLED):
        x.clear_outputs(x.outputs.clearable(run))  # a partial output is never trusted
    return False


def retry(x: Endings, e: Ended) -> bool:
    run, cfg = e.run, e.cfg
    if e.ending.state != RunState.FAILED or run.failures >= cfg.retries:
        return False
    book = x.book
    run.failures += 1
    delay = cfg.backoff * 2 ** (run.failures - 1)
    run.not_before = e.now + delay
    book.move(run, RunState.QUEUED, f"{e.reason}; retry {run.failures}/{cfg.retries} in {delay:g}s")
    if run.rerun:
        run.rerun = False
        book.move(run, RunState.WAITING)
        x.settle.replace(run, run.reason)
    else:
        book.delay(run)
    book.message(
        f"{run.stage}/{run.name} attempt {run.attempt} failed: {e.reason} (retrying in {delay:g}s)",
        level="warning",
        run=book.run_view(run),
    )
    return True


def rerun(x: Endings, e: Ended) -> bool:
    run = e.run
    if not run.rerun or e.ending.state == RunState.CANCELLED:
        return False
    run.rerun = False
    why = run.rerun_why or "what it is made of changed while it ran"
    run.rerun_why = ""
    x.settle.replace(run, f"runs again: {why} (attempt {run.attempt} {e.ending.state.value} on the old one)")
    return True


def settle(x: Endings, e: Ended) -> bool:
    e.run.rerun = False
    x.book.move(e.run, e.ending.state, e.reason)
    return False


def hooks(x: Endings, e: Ended) -> bool:
    run, state = e.run, e.ending.state
    hook = e.cfg.on_done if state == RunState.DONE else e.cfg.on_failed if state == RunState.FAILED else None
    if not hook or x.hooks is None:
        return False
    values = placeholder_values(x.outputs.target(run), run.stage, run.attempt)
    code = e.ending.exit_code
    values.update(state=state.value, exit_code="" if code is None else code, reason=e.reason, log=run.log)
    event = "on_done" if state == RunState.DONE else "on_failed"
    x.hooks.owe(f"{event}.{run.stage}.{run.name}.{run.attempt}", hook, values, f"{event} {run.stage}/{run.name}")
    return False


def notes(x: Endings, e: Ended) -> bool:
    if e.ending.state == RunState.FAILED and x.hooks is not None:
        notifications.run_failed(x.hooks, e.run, e.reason, e.cfg.notify)
    return False


def tell_readiness(x: Endings, e: Ended) -> bool:
    run, key = e.run, e.run.key
    passed = e.ending.state == RunState.DONE
    x.settle.apply(x.book.readiness.set(key, Progress.PASSED if passed else Progress.STOPPED))
    if passed:
        x.settle.touch_consumers(key)
    if e.ending.state == RunState.FAILED:
        x.book.message(
            f"{run.stage}/{run.name} attempt {run.attempt} failed: {e.reason}",
            level="error",
            run=x.book.run_view(run),
        )
    return True


RULES: tuple[Rule, ...] = (
    refused_start,
    record_attempt,
    stopped_with_engine,
    keep_outputs,
    retry,
    rerun,
    settle,
    hooks,
    notes,
    tell_readiness,
)
