"""RunTable: one stage's runs as a virtual list; only the rows on screen are ever rendered.

Textual's DataTable pays for every row on every change (re-measuring widths when rows
are added, rebuilding its row order and line offsets, re-rendering every visible cell
through Rich after any `update_cell`), which at 10,000 runs made a filter keystroke cost
a second and an idle screen several per cent of a CPU. This widget keeps the rows in a
`RunRows` (run_rows.py: the order and the filter, kept up to date run by run) and renders a
row only when it is on screen, from per-cell segments cached until that cell's text changes.
The drawing (exactly what the DataTable drew, a frame costing only what changed in it) is
`CellTable`'s (cell_table.py); this class is which runs are the rows, in what order, and the cursor.

A batch of changed runs moves their rows (the order is always current); rows on screen are
repainted only when a change lands on or above them. The order is a `SortMode`
(coopy_tui.sorting; `o` cycles them), by default: running (oldest first), queued in the order
they would start, runs waiting out a retry backoff, waiting ones, then failed, cancelled, and
finished ones (newest first). The columns are a list of `Column`s (run_columns.py) fitted to the
panel's width. Until the user moves the cursor it stays on the first row (the oldest running run,
like `top`); once moved it is pinned to its run and follows it when rows move (`home` unpins).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Spacing
from textual.message import Message

from coopy_core.model import RunState, RunView
from coopy_tui.listing import parse
from coopy_tui.marks import marked_cells
from coopy_tui.names import Names
from coopy_tui.sorting import SortMode
from coopy_tui.widgets.cell_table import SCROLLBAR, CellTable
from coopy_tui.widgets.metric_columns import MetricColumns, with_metrics
from coopy_tui.widgets.name_column import NameColumn
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, Column, Row, slurm_text
from coopy_tui.widgets.run_rows import RunRows
from coopy_tui.widgets.scrolling import set_virtual_size

__all__ = ["RunTable", "resources_text", "slurm_text"]


def resources_text(run: RunView) -> str:
    """`gpus 0,1  mem 4`: what the run holds from the resource pools ("" when nothing)."""
    parts = []
    for pool, held in sorted(run.resources.items()):
        if isinstance(held, list | tuple):
            parts.append(f"{pool} {','.join(str(h) for h in held)}")
        elif isinstance(held, int | float):
            parts.append(f"{pool} {held:g}")
        else:
            parts.append(f"{pool} {held}")
    return "  ".join(parts)


class RunTable(CellTable, can_focus=True, inherit_bindings=False):
    """The task list of one stage panel."""

    # Only scrolling is bound here; up/down/j/k and left/right are the app's (tasks, stages).
    BINDINGS = [
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_top", "First", show=False),
        Binding("end,G", "scroll_bottom", "Last", show=False),
        Binding("shift+right", "scroll_names(8)", "Scroll right", show=False),
        Binding("shift+left", "scroll_names(-8)", "Scroll left", show=False),
    ]
    COMPONENT_CLASSES = {"runtable--header", "runtable--cursor"}
    # DataTable's own look (the rules that apply to a row cursor, no zebra stripes, no hover)
    DEFAULT_CSS = """
    RunTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .runtable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .runtable--header {
                background-tint: $foreground 5%;
            }
        }
        & > .runtable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .runtable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .runtable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another row (the app follows the selected run's log)."""

        def __init__(self, table: RunTable, task: str | None) -> None:
            super().__init__()
            self.table = table
            self.task = task

        @property
        def control(self) -> RunTable:
            return self.table

    def __init__(
        self,
        stage: str,
        clock: Callable[[], float],
        task_width: int = 20,
        *,
        columns: Sequence[Column] = DEFAULT_COLUMNS,
        id: str | None = None,
        metrics: Sequence[str] | None = None,
        names: Names | None = None,
    ) -> None:
        self.name_column = NameColumn(names)  # how names are shown (coopy_tui.names), wide or not
        columns = self.name_column.own(columns)
        super().__init__(task_width, columns, id=id)
        self.stage = stage
        self.clock = clock
        self.base_columns = tuple(columns)
        self.metric_columns = MetricColumns(metrics)  # issue 15: latest metric values (metric_columns.py)
        self.rows = RunRows()
        self._last: dict[str, str] = {}  # task -> last log line
        self._timed: set[str] = set()  # rows whose text changes with the clock
        self.filter_text = ""
        self.sorts = 0  # how many times the whole order was built (start-up, `o`): for tests and measurements
        self.pinned = False  # the user chose a row: follow that run instead of staying on top
        self.shorten: Callable[[str], str] = str  # reasons' run names without the shared params (Names.in_text)
        self.marked: set[str] = set()  # runs marked for a command on many (coopy_tui.selection)

    @property
    def sort(self) -> SortMode:
        return self.rows.sort

    @property
    def needs_sort(self) -> bool:
        """Rows are moved as their runs change: a re-sort is never due (kept for callers that ask)."""
        return False

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def run_count(self) -> int:
        """Every run of the stage, shown or not."""
        return self.rows.total

    @property
    def _runs(self) -> dict[str, RunView]:
        return self.rows.runs

    def run(self, task: str) -> RunView | None:
        return self.rows.runs.get(task)

    # ------------------------------------------------------------------ the rows, for CellTable
    def _row_total(self) -> int:
        return len(self.rows)

    def _task_at(self, row: int) -> str:
        return self.rows.task_at(row)

    def _tasks_between(self, top: int, bottom: int) -> list[str]:
        return self.rows.tasks(top, bottom)

    def _row_cells(self, task: str) -> list[Text]:
        return self._cells(self.rows.runs[task], self.clock())

    # ------------------------------------------------------------------ names (name_column.py)
    def _task_wants(self) -> tuple[int, ...]:
        return self.name_column.wants(self.task_width)

    def _least_width(self) -> int:
        return self.name_column.least_width()

    def _label(self, column: Column, width: int) -> str:
        return self.name_column.label(column, width)

    @property
    def wide(self) -> bool:
        return self.name_column.wide

    def set_names(self, names: Names) -> None:
        """Show names this way from now on (a configuration was added): every row redrawn."""
        if names != self.name_column.names:
            self.name_column.names = names
            self.set_columns(self.all_columns)

    def set_wide(self, wide: bool) -> None:
        """`W`: whole names (the list scrolls sideways with shift+arrows when they are wider than it)."""
        if wide != self.wide:
            self.name_column.wide = wide
            self.set_columns(self.all_columns)
            if not wide:
                self.scroll_to(x=0, animate=False)

    def action_scroll_names(self, cells: int) -> None:
        self.scroll_to(x=max(0, int(self.scroll_x) + cells), animate=False, force=True)

    # ------------------------------------------------------------------ columns
    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show these columns from now on (a metric appeared, say): fitted to the width, every row redrawn."""
        self.all_columns = self.name_column.own(columns)
        width = self._fitted_to if self._fitted_to >= 0 else self.size.width - SCROLLBAR
        self._fitted_to = -1
        self._kept = {}
        self._rendered = {}
        self._fit(width)
        self._rows_changed()

    @property
    def cursor_row(self) -> int:
        return self._cursor

    # ------------------------------------------------------------------ selection
    def move(self, rows: int) -> None:
        """The user moves the cursor: from now on it stays with the run it lands on."""
        self.pinned = True
        self._move_cursor(self._cursor + (-1 if rows < 0 else 1))

    def action_page_up(self) -> None:
        self.pinned = True
        height = self._page_height()
        self.scroll_relative(y=-height, animate=False)
        self._move_cursor(self._cursor - height)

    def action_page_down(self) -> None:
        self.pinned = True
        height = self._page_height()
        self.scroll_relative(y=height, animate=False, force=True)
        self._move_cursor(self._cursor + height)

    def action_scroll_top(self) -> None:
        self.pinned = False
        self._move_cursor(0)

    def action_scroll_bottom(self) -> None:
        self.pinned = True
        self._move_cursor(self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        self.pinned = True
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = offset.y - 1 + int(self.scroll_y)  # the header is the first line
        if 0 <= row < self.row_count:
            self._move_cursor(row)

    def on_resize(self, event: events.Resize) -> None:
        """The list got shorter (the sparkline row appeared): the cursor stays in view."""
        super().on_resize(event)
        if self.row_count:
            self.call_after_refresh(lambda: self._move_cursor(self._cursor))  # scrolls only when out of view

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move_cursor(self, row: int, scroll: bool = True) -> None:
        row = max(0, min(row, self.row_count - 1))
        old = self._cursor
        before = self.selected_task if old != row else None
        self._cursor = row
        if old != row:
            self._refresh_rows((old, row))
            task = self.selected_task
            if task != before:
                self.post_message(self.Highlighted(self, task))
        if scroll and self.row_count:
            top, bottom = self._visible()
            if not top <= row < bottom:  # only when it would move: a scroll request costs a layout pass
                self.scroll_to_region(
                    Region(int(self.scroll_x), row + 1, max(1, self.size.width), 1),
                    animate=False,
                    spacing=Spacing(1, 0, 0, 0),
                    force=True,
                )

    @property
    def selected_task(self) -> str | None:
        return self.rows.task_at(self._cursor) if len(self.rows) else None

    def select_task(self, task: str) -> bool:
        """Select `task`'s row and keep it selected when rows move; False if it is not shown."""
        row = self.rows.row_of(task)
        if row is None:
            return False
        self.pinned = True
        self._move_cursor(row)
        return True

    def get_row_index(self, task: str) -> int:
        row = self.rows.row_of(task)
        if row is None:
            raise KeyError(task)
        return row

    def shown_tasks(self) -> list[str]:
        """Tasks in the order they are shown (tests read this)."""
        return self.rows.tasks()

    def row_text(self, task: str) -> list[str]:
        """The text of each cell of `task`'s row, as drawn now (tests read this)."""
        return [cell.plain for cell in self._cells(self.rows.runs[task], self.clock())]

    def last_line(self, task: str) -> str:
        """The run's last log line as the list knows it ("" before it was read)."""
        return self._last.get(task, "")

    # ------------------------------------------------------------------ content
    def _cells(self, run: RunView, now: float) -> list[Text]:
        last = self._last.get(run.task, "")
        cells = [c.cell(run, Row(now, last, w, self.shorten)) for c, w in zip(self.columns, self.widths, strict=True)]
        return marked_cells(cells) if run.task in self.marked else cells

    def set_marked(self, tasks: Iterable[str], marked: bool) -> None:
        """Mark (unmark) these runs: their rows on screen are drawn again with (without) the mark."""
        changed = [t for t in tasks if (t in self.marked) != marked]
        if marked:
            self.marked.update(changed)
        else:
            self.marked.difference_update(changed)
        self._stale.update(changed)
        self._refresh_tasks(changed)

    def _is_timed(self, run: RunView) -> bool:
        return run.state == RunState.RUNNING or (run.state == RunState.QUEUED and run.not_before is not None)

    def _note(self, runs: list[RunView]) -> None:
        """What the cells of these changed runs depend on (the rows are the RunRows')."""
        stale, timed = self._stale, self._timed
        for run in runs:
            stale.add(run.task)
            if self._is_timed(run):
                timed.add(run.task)
            else:
                timed.discard(run.task)

    def _observe_metrics(self, runs: list[RunView]) -> None:
        """A metric column appeared: it joins the columns (fitted to the width, every row drawn again)."""
        if self.metric_columns.observe(runs):
            self.set_columns(with_metrics(self.base_columns, self.metric_columns))

    def load(self, runs: Iterable[RunView]) -> None:
        """Show these runs (start-up): one pass, rows in order."""
        selected = self.selected_task if self.pinned else None
        runs = list(runs)
        self._observe_metrics(runs)
        self._note(runs)
        self.rows.load(runs)
        self.sorts += 1
        self._reordered(selected)

    def _reordered(self, selected: str | None) -> None:
        """The whole order changed (a new filter or sort): the cursor stays with its run if pinned."""
        self._rows_changed()
        row = self.rows.row_of(selected) if selected is not None else None
        if row is not None:
            self._move_cursor(row)
        else:
            self._move_cursor(0)

    def apply(self, runs: Iterable[RunView]) -> set[str]:
        """Bring the rows of these (changed) runs up to date: rows on screen repaint only if a change
        landed on or above them. Returns the tasks that left the list because they no longer match the filter."""
        runs = list(runs)
        if not runs:
            return set()
        selected = self.selected_task
        count = len(self.rows)
        self._observe_metrics(runs)
        self._note(runs)
        removed, first = self.rows.apply(runs)
        if len(self.rows) != count:
            self._rows_changed()
        elif first < self._visible()[1]:
            self.refresh()  # rows that did not change are handed over as they were (cheap)
        self._follow(selected)
        return removed

    def _follow(self, selected: str | None) -> None:
        """After rows moved: a pinned cursor stays on its run (if shown), else it stays on the first row."""
        if self.pinned and selected is not None:
            row = self.rows.row_of(selected)
            if row is not None:
                if row != self._cursor:
                    self._move_cursor(row)
                return
        self._cursor = max(0, min(self._cursor, len(self.rows) - 1))
        if not self.pinned and self._cursor != 0:
            self._move_cursor(0)
        elif self.selected_task != selected:
            self.post_message(self.Highlighted(self, self.selected_task))

    def set_last_lines(self, lines: dict[str, str]) -> None:
        changed = []
        for task, line in lines.items():
            if self._last.get(task) == line:
                continue
            self._last[task] = line
            if task in self.rows.runs:
                self._stale.add(task)
                changed.append(task)
        self._refresh_tasks(changed)

    def tick(self) -> None:
        """Refresh the clock-driven cells (elapsed time, retry countdown): only rows on screen repaint."""
        self._stale.update(self._timed)
        self._refresh_tasks(self._timed)

    def set_filter(self, text: str) -> None:
        terms = parse(text)
        self.filter_text = text.strip()
        if terms != self.rows.terms:
            selected = self.selected_task if self.pinned else None
            if self.rows.set_filter(terms):
                self._reordered(selected)

    def set_sort(self, mode: SortMode) -> None:
        """Order the rows by `mode`; the cursor stays on its run if it was pinned."""
        if mode.name == self.sort.name:
            return
        selected = self.selected_task if self.pinned else None
        self.rows.set_sort(mode)
        self.sorts += 1
        self._reordered(selected)

    def flush_sort(self, force: bool = False) -> None:
        """Nothing to do: rows move as their runs change (kept for callers from when sorting was deferred)."""

    # ------------------------------------------------------------------ painting
    def _rows_changed(self) -> None:
        """The number or order of rows changed: new scroll size, repaint everything on screen."""
        self._cursor = max(0, min(self._cursor, len(self.rows) - 1))
        set_virtual_size(self, self._content_size())
        self.refresh()

    def _refresh_tasks(self, tasks: Iterable[str]) -> None:
        """Repaint the rows of these tasks that are on screen (nothing at all when none is)."""
        top, bottom = self._visible()
        row_of = self.rows.row_of
        rows = [row for task in tasks if (row := row_of(task)) is not None and top <= row < bottom]
        self._refresh_rows(rows)
