"""The task list's columns: one list of `Column`s, each saying how wide it is and what a row shows in it.

A panel narrower than every column keeps `task` and `state` (never clipped: the task name is
shortened first, coopy_tui.names says how), then the optional columns by rank while they fit, and
gives what is left to the column that grows (the last log line). A new column (a
metric, say) is one more entry in a list passed to RunTable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rich.text import Text

from coopy_core.model import RunState, RunView
from coopy_tui.format import STATE_GLYPHS, STATE_STYLES, elapsed, middle_truncate, reason_now, state_text

MIN_TASK = 10  # cells the task column keeps (glyph, space, 7 of the name, gap)
MIN_GROW = 12  # a growing column narrower than this is left out (its header would be cut)


@dataclass(frozen=True, slots=True)
class Row:
    """What a cell may use besides the run: the time, the run's last log line, the column's width."""

    now: float
    last: str
    width: int
    shorten: Callable[[str], str] = str  # run names in the engine's reasons without what every run shares


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # cells, the gap after it included (no cell padding); the task column's is set from the names
    cell: Callable[[RunView, Row], Text]
    right: bool = False
    required: bool = False  # shown at any width (task, state)
    rank: float = 0  # optional columns: lower ranks stay longer when the panel is narrow
    grow: bool = False  # takes the width left over


def slurm_text(run: RunView) -> str:
    """`job 123: PENDING (Resources)` for a running Slurm job; a Ray job's long id goes after its state,
    `RUNNING on 10.0.0.7 · job coopy-…`, so the state fits the column ("" for a local run)."""
    if not run.job_id:
        return ""
    if run.reason and len(run.job_id) > LONG_JOB_ID:
        return f"{run.reason} · job {run.job_id}"
    return f"job {run.job_id}: {run.reason}" if run.reason else f"job {run.job_id}"


LONG_JOB_ID = 12  # Slurm's ids are numbers; Ray's submission ids are `coopy-<hash>-<token>`


def waiting_text(run: RunView) -> str:
    """A waiting run: how much of what it needs is done (a group run also says how many members)."""
    if not run.needs_total:
        return run.reason
    ready = run.needs_total - run.waiting_on
    members = f"{run.member_count} members; " if run.member_count else ""
    text = f"{members}needs {ready}/{run.needs_total} done"
    return f"{text}; {run.reason}" if run.reason else text


def last_text(run: RunView, last: str, now: float | None = None) -> str:
    """The last column: live output while running, why it stopped, what it waits for."""
    if run.state == RunState.RUNNING:
        return slurm_text(run) or last
    if run.state.passed:
        return last or run.reason
    if run.state == RunState.WAITING:
        return waiting_text(run)
    if run.state == RunState.FAILED and last and last not in run.reason:
        return f"{run.reason}: {last}" if run.reason else last
    if now is not None:  # queued behind a retry's backoff: counted down, not the engine's words of then
        return reason_now(run, now)
    return run.reason  # blocked (waits on what failed), cancelled


def _task(run: RunView, row: Row) -> Text:
    glyph = (f"{STATE_GLYPHS[run.state]} ", STATE_STYLES[run.state])
    return Text.assemble(glyph, (middle_truncate(run.task, max(1, row.width - 3)), ""))


def _state(run: RunView, row: Row) -> Text:
    return state_text(run, row.now)


def _priority(run: RunView, row: Row) -> Text:
    return Text(str(run.priority), justify="right")


def _attempt(run: RunView, row: Row) -> Text:
    return Text(str(run.attempt) if run.attempt else "", justify="right")


def _elapsed(run: RunView, row: Row) -> Text:
    return Text(elapsed(run, row.now), justify="right")


def _last(run: RunView, row: Row) -> Text:
    if run.reason and run.state != RunState.RUNNING:  # a blocked run's `waits on train/dataset=...,model=...`
        run = replace(run, reason=row.shorten(run.reason))
    return Text(
        f" {last_text(run, row.last, row.now)}", style="bold" if run.state == RunState.FAILED else "", no_wrap=True
    )


TASK = Column("task", "task", 0, _task, required=True)
STATE = Column("state", "state", 10, _state, required=True)
DEFAULT_COLUMNS: tuple[Column, ...] = (
    TASK,
    STATE,
    Column("priority", "pri", 4, _priority, right=True, rank=3),
    Column("attempt", "att", 4, _attempt, right=True, rank=1),
    Column("elapsed", "elapsed", 8, _elapsed, right=True, rank=0),
    Column("last", " last line", 0, _last, grow=True, rank=2),
)


def fit(columns: Sequence[Column], width: int, task_width: int | Sequence[int]) -> list[int]:
    """Each column's width for a list `width` cells wide (0: hidden), in column order.

    `task_width` is what the name reads well at, widest first (its `key=value` pairs, then its values
    aligned under the keys: coopy_tui.names). The widest that leaves the growing column (the last
    line) room is taken; when none does, the one that shows the most columns (the widest of those).
    """
    wants = (task_width,) if isinstance(task_width, int) else tuple(task_width)
    grow = [i for i, c in enumerate(columns) if c.grow]
    best: list[int] = []
    for want in wants:
        widths = _fit(columns, width, want)
        if not grow or widths[grow[0]] > 0:
            return widths
        if not best or sum(w > 0 for w in widths) > sum(w > 0 for w in best):
            best = widths
    return best


def _fit(columns: Sequence[Column], width: int, task_width: int) -> list[int]:
    """The task column wants `task_width + 3` (glyph, space, name, gap): it gives up cells before a
    required column is clipped, and optional columns come only while it keeps its full width, by
    rank (a growing column counts as MIN_GROW wide there, and takes what is left at the end).
    """
    want = {c.key: (task_width + 3 if c.key == "task" else c.width) for c in columns}
    widths = {c.key: 0 for c in columns}
    required = [c for c in columns if c.required]
    fixed = sum(want[c.key] for c in required if c.key != "task")
    task = next((c for c in required if c.key == "task"), None)
    if task is not None:
        widths[task.key] = max(MIN_TASK, min(want[task.key], width - fixed))
    for c in required:
        if c.key != "task":
            widths[c.key] = want[c.key]
    used = sum(widths.values())
    growing = []
    for c in sorted((c for c in columns if not c.required), key=lambda c: c.rank):
        need = MIN_GROW if c.grow else want[c.key]
        if used + need <= width:
            widths[c.key] = need
            used += need
            if c.grow:
                growing.append(c)
    for c in growing[:1]:
        widths[c.key] += width - used
    return [widths[c.key] for c in columns]
