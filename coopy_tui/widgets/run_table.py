"""RunTable: one stage's runs as keyed DataTable rows, updated cell by cell.

Rows are keyed by task name. A batch of changed runs updates only the cells
whose text changed (`update_cell`, never re-measuring widths: the columns have
fixed widths), and the row order is re-sorted at most once per batch, and at
most twice a second on big tables. Order: running (oldest first), queued in
the order they would start, runs waiting out a retry backoff, then failed,
cancelled, and finished ones (newest first). Until the user moves the cursor
it stays on the first row (the oldest running run, like `top`); once moved
it is pinned to its run and follows it when rows move (`home` unpins).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from coopy_core.model import RunState, RunView
from coopy_tui.format import STATE_GLYPHS, elapsed, state_text

COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    # key, label, width (gap included: cell padding is 0), right-aligned; the task column is sized
    # at construction and carries the state's glyph, so even a narrow panel shows every run's state
    ("task", "task", 0, False),
    ("state", "state", 10, False),
    ("priority", "pri", 4, True),
    ("attempt", "att", 4, True),
    ("elapsed", "elapsed", 8, True),
    ("last", " last line", 200, False),
)
BIG_TABLE = 2000  # rows; above this, sort at most every SORT_INTERVAL seconds
SORT_INTERVAL = 0.5

_GROUP = {
    RunState.RUNNING: 0,
    RunState.QUEUED: 1,
    RunState.FAILED: 3,
    RunState.CANCELLED: 4,
    RunState.DONE: 5,
    RunState.SKIPPED: 5,
}


def sort_key(run: RunView) -> tuple[Any, ...]:
    """Where a run sits in its stage's list (queued: the engine's own start order)."""
    group = _GROUP[run.state]
    if run.state == RunState.RUNNING:
        return (group, run.started_at or 0.0, run.order)
    if run.state == RunState.QUEUED:
        if run.not_before is not None:
            return (2, run.not_before, run.order)
        return (group, -run.priority, run.order)
    return (group, -(run.ended_at or 0.0), run.order)


class RunTable(DataTable[Text], inherit_bindings=False):
    """The task list of one stage panel."""

    # Only scrolling is bound here; up/down/j/k and left/right are the app's (tasks, stages).
    BINDINGS = [
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_top", "First", show=False),
        Binding("end,G", "scroll_bottom", "Last", show=False),
    ]

    def __init__(
        self,
        stage: str,
        clock: Callable[[], float],
        task_width: int = 20,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, id=id)
        self.stage = stage
        self.clock = clock
        self.task_width = task_width
        self._runs: dict[str, RunView] = {}  # every run of the stage, shown or filtered out
        self._shown: dict[str, tuple[str, ...]] = {}  # shown task -> signature of its cells
        self._keys: dict[str, tuple[Any, ...]] = {}  # shown task -> sort key
        self._last: dict[str, str] = {}  # task -> last log line
        self._timed: set[str] = set()  # rows whose text changes with the clock
        self._terms: list[str] = []
        self._needs_sort = False
        self._last_sort = 0.0
        self.sorts = 0  # how many times rows were re-ordered (for tests and measurements)
        self.pinned = False  # the user chose a row: follow that run instead of staying on top

    def on_mount(self) -> None:
        for key, label, width, right in COLUMNS:
            text = Text(label, justify="right" if right else "left")
            self.add_column(text, key=key, width=width or self.task_width + 3)

    @property
    def needs_sort(self) -> bool:
        """Rows moved since the last sort (a throttled sort is still due)."""
        return self._needs_sort

    # ------------------------------------------------------------------ selection
    def move(self, rows: int) -> None:
        """The user moves the cursor: from now on it stays with the run it lands on."""
        self.pinned = True
        if rows < 0:
            self.action_cursor_up()
        else:
            self.action_cursor_down()

    def action_page_up(self) -> None:
        self.pinned = True
        super().action_page_up()

    def action_page_down(self) -> None:
        self.pinned = True
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self.pinned = False
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self.pinned = True
        super().action_scroll_bottom()

    def on_click(self) -> None:
        self.pinned = True

    @property
    def selected_task(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        return row_key.value

    def select_task(self, task: str) -> bool:
        """Select `task`'s row and keep it selected when rows move; False if it is not shown."""
        self.pinned = self._place(task) or self.pinned
        return task in self._shown

    def _place(self, task: str) -> bool:
        if task not in self._shown:
            return False
        index = self.get_row_index(task)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)
        return True

    def shown_tasks(self) -> list[str]:
        """Tasks in the order they are shown (tests read this)."""
        return [row.key.value or "" for row in self.ordered_rows]

    # ------------------------------------------------------------------ content
    def _cells(self, run: RunView, now: float) -> list[Text]:
        if run.state == RunState.RUNNING:
            last = self._last.get(run.task, "")
        elif run.state.passed:
            last = self._last.get(run.task) or run.reason
        else:
            last = run.reason  # why it failed, was cancelled, or waits for a retry
        style = "bold" if run.state == RunState.FAILED else ""
        return [
            Text.assemble(f"{STATE_GLYPHS[run.state]} ", (run.task, "")),
            state_text(run, now),
            Text(str(run.priority), justify="right"),
            Text(str(run.attempt) if run.attempt else "", justify="right"),
            Text(elapsed(run, now), justify="right"),
            Text(f" {last}", style=style, no_wrap=True),
        ]

    @staticmethod
    def _signature(cells: list[Text]) -> tuple[str, ...]:
        return tuple(f"{c.plain}\x00{c.style}" for c in cells)

    def _matches(self, run: RunView) -> bool:
        if not self._terms:
            return True
        hay = f"{run.task} {run.state.value}".lower()
        return all(term in hay for term in self._terms)

    def _is_timed(self, run: RunView) -> bool:
        return run.state == RunState.RUNNING or (run.state == RunState.QUEUED and run.not_before is not None)

    def load(self, runs: Iterable[RunView]) -> None:
        """Show these runs (start-up, or a new filter): one pass, rows added already in order."""
        selected = self.selected_task if self.pinned else None
        now = self.clock()
        for run in runs:
            self._runs[run.task] = run
        self.clear()
        self._shown.clear()
        self._keys.clear()
        self._timed.clear()
        shown = sorted((r for r in self._runs.values() if self._matches(r)), key=sort_key)
        for run in shown:
            cells = self._cells(run, now)
            self.add_row(*cells, key=run.task)
            self._shown[run.task] = self._signature(cells)
            self._keys[run.task] = sort_key(run)
            if self._is_timed(run):
                self._timed.add(run.task)
        self._needs_sort = False
        if selected is not None:
            self._place(selected)
        elif self.row_count and self.cursor_row != 0:
            self.move_cursor(row=0, animate=False)

    def apply(self, runs: Iterable[RunView]) -> None:
        """Bring the rows of these (changed) runs up to date."""
        now = self.clock()
        for run in runs:
            self._runs[run.task] = run
            if self._is_timed(run):
                self._timed.add(run.task)
            else:
                self._timed.discard(run.task)
            self._update_row(run, now)

    def _update_row(self, run: RunView, now: float) -> None:
        task = run.task
        match = self._matches(run)
        if task not in self._shown:
            if match:
                cells = self._cells(run, now)
                self.add_row(*cells, key=task)
                self._shown[task] = self._signature(cells)
                self._keys[task] = sort_key(run)
                self._needs_sort = True
            return
        if not match:
            self.remove_row(task)
            del self._shown[task]
            self._keys.pop(task, None)
            return
        cells = self._cells(run, now)
        signature = self._signature(cells)
        old = self._shown[task]
        if signature != old:
            for (column, *_), cell, before, after in zip(COLUMNS, cells, old, signature, strict=True):
                if before != after:
                    self.update_cell(task, column, cell)
            self._shown[task] = signature
        order = sort_key(run)
        if self._keys.get(task) != order:
            self._keys[task] = order
            self._needs_sort = True

    def set_last_lines(self, lines: dict[str, str]) -> None:
        now = self.clock()
        for task, line in lines.items():
            if self._last.get(task) == line:
                continue
            self._last[task] = line
            run = self._runs.get(task)
            if run is not None and task in self._shown:
                self._update_row(run, now)

    def tick(self) -> None:
        """Refresh the clock-driven cells (elapsed time, retry countdown) of the running rows."""
        now = self.clock()
        for task in list(self._timed):
            run = self._runs.get(task)
            if run is not None and task in self._shown:
                self._update_row(run, now)

    def set_filter(self, text: str) -> None:
        terms = text.lower().split()
        if terms != self._terms:
            self._terms = terms
            self.load(())

    def flush_sort(self, force: bool = False) -> None:
        """Re-order rows if a run moved (throttled on big tables); the cursor stays on its run."""
        if not self._needs_sort:
            return
        mono = time.monotonic()
        if not force and self.row_count > BIG_TABLE and mono - self._last_sort < SORT_INTERVAL:
            return
        selected = self.selected_task if self.pinned else None
        keys = self._keys
        self.sort("task", key=lambda cell: keys[cell.plain[2:]])
        self._needs_sort = False
        self._last_sort = mono
        self.sorts += 1
        if selected is not None:
            self._place(selected)
        elif self.row_count and self.cursor_row != 0:
            self.move_cursor(row=0, animate=False)
