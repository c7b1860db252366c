"""RunTable: one stage's runs as a virtual list; only the rows on screen are ever rendered.

Textual's DataTable pays for every row on every change (re-measuring widths when rows
are added, rebuilding its row order and line offsets, re-rendering every visible cell
through Rich after any `update_cell`), which at 10,000 runs made a filter keystroke cost
a second and an idle screen several per cent of a CPU. This widget keeps the row order
as a plain list of task names and renders a row only when it is on screen, from
per-cell segments cached until that cell's text changes. It draws exactly what the
DataTable drew (same cell rendering, styles and component classes).

A batch of changed runs only marks their rows stale (repainting those on screen), and
the row order is re-sorted at most once per batch, and at most twice a second on big
tables. The order is a `SortMode` (coopy_tui.sorting; `o` cycles them), by default: running
(oldest first), queued in the order they would start, runs waiting out a retry backoff, waiting
ones, then failed, cancelled, and finished ones (newest first). The columns are a list of
`Column`s (run_columns.py) fitted to the panel's width. Until the user moves the cursor it
stays on the first row (the oldest running run, like `top`); once moved it is pinned to its run
and follows it when rows move (`home` unpins).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import ConsoleOptions
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual._segment_tools import line_crop
from textual.binding import Binding
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from coopy_core.model import RunState, RunView
from coopy_tui import matching
from coopy_tui.sorting import SORTS, SortMode, queue_key
from coopy_tui.widgets.metric_columns import MetricColumns, with_metrics
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, Column, Row, fit, slurm_text
from coopy_tui.widgets.scrolling import set_virtual_size

__all__ = ["RunTable", "resources_text", "slurm_text", "sort_key"]

MAX_CACHED_ROWS = 160  # rendered rows kept; past this, only the rows on screen are kept
BIG_TABLE = 2000  # rows; above this, sort at most every SORT_INTERVAL seconds
SORT_INTERVAL = 0.5
SCROLLBAR = 1  # cells kept free for the vertical scrollbar (scrollbar-size-vertical in coopy.tcss)
sort_key = queue_key  # the default order (kept under its old name)

_NO_STYLE = Style()
Cell = tuple[str, str, str | None]  # what a cell's rendering depends on: text, style, justify


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


class RunTable(ScrollView, can_focus=True, inherit_bindings=False):
    """The task list of one stage panel."""

    # Only scrolling is bound here; up/down/j/k and left/right are the app's (tasks, stages).
    BINDINGS = [
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_top", "First", show=False),
        Binding("end,G", "scroll_bottom", "Last", show=False),
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
    ) -> None:
        super().__init__(id=id)
        self.stage = stage
        self.clock = clock
        self.task_width = task_width
        self.base_columns = tuple(columns)
        self.metric_columns = MetricColumns(metrics)  # issue 15: latest metric values (metric_columns.py)
        self.all_columns = tuple(columns)
        self.sort: SortMode = SORTS[0]
        self.columns: tuple[Column, ...] = ()  # the ones shown at the current width
        self.widths: list[int] = []
        self._fitted_to = -1
        self._fit(sum(c.width for c in columns) + task_width + 3 + 40)
        self._runs: dict[str, RunView] = {}  # every run of the stage, shown or filtered out
        self._sort_keys: dict[str, tuple[Any, ...]] = {}  # every run -> sort key
        self._hay: dict[str, str] = {}  # every run -> what the filter searches ("task state", lower case)
        self._params: dict[str, dict[str, str]] = {}  # task -> its params, parsed when a `key=value` word needs them
        self._order: list[str] = []  # shown tasks, in row order
        self._rows: dict[str, int] | None = {}  # shown task -> row; None: rebuild on demand
        self._keyed: dict[str, tuple[Any, ...]] = {}  # shown task -> the sort key its row was placed by
        self._rendered: dict[str, tuple[tuple[Cell, ...], list[list[Segment]]]] = {}  # task -> cells, segments
        self._stale: set[str] = set()  # tasks whose cached cells may be out of date
        self._last: dict[str, str] = {}  # task -> last log line
        self._timed: set[str] = set()  # rows whose text changes with the clock
        self._terms: list[matching.Term] = []
        self.filter_text = ""
        self._needs_sort = False
        self._last_sort = 0.0
        self._cursor = 0
        self._options: dict[int, ConsoleOptions] = {}
        self._header: list[list[Segment]] | None = None
        self._styles: dict[str, Style] = {}  # parsed text styles
        self._metas: dict[int, list[Style]] = {}  # row -> the cells' click metadata (as DataTable's)
        self._frame: tuple[Style, Style, Style, Style, int, int, int] | None = None  # see _frame_styles
        self.sorts = 0  # how many times rows were re-ordered (for tests and measurements)
        self.pinned = False  # the user chose a row: follow that run instead of staying on top

    @property
    def needs_sort(self) -> bool:
        """Rows moved since the last sort (a throttled sort is still due)."""
        return self._needs_sort

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def run_count(self) -> int:
        """Every run of the stage, shown or not."""
        return len(self._runs)

    def run(self, task: str) -> RunView | None:
        return self._runs.get(task)

    # ------------------------------------------------------------------ columns
    def _fit(self, width: int) -> None:
        """Choose the columns and their widths for `width` cells (a resize, or a longer task name)."""
        if width == self._fitted_to:
            return
        self._fitted_to = width
        widths = fit(self.all_columns, width, self.task_width)
        shown = [(c, w) for c, w in zip(self.all_columns, widths, strict=True) if w > 0]
        self.columns = tuple(c for c, _w in shown)
        self.widths = [w for _c, w in shown]
        self._rendered = {}
        self._header = None
        self._metas = {}
        self._options = {}

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show these columns from now on (a metric appeared, say): fitted to the width, every row redrawn."""
        self.all_columns = tuple(columns)
        width = self._fitted_to if self._fitted_to >= 0 else self.size.width - SCROLLBAR
        self._fitted_to = -1
        self._fit(width)
        self._rows_changed()

    def on_resize(self, event: events.Resize) -> None:
        old = self._fitted_to
        self._fit(event.size.width - SCROLLBAR)  # a scrollbar may take the last column
        if self._fitted_to != old:
            set_virtual_size(self, Size(sum(self.widths), len(self._order) + 1))
            self.refresh()

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
        row = event.style.meta.get("row")
        if isinstance(row, int) and row >= 0:
            self._move_cursor(row)

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move_cursor(self, row: int, scroll: bool = True) -> None:
        row = max(0, min(row, self.row_count - 1))
        old = self._cursor
        self._cursor = row
        if old != row:
            self._refresh_rows((old, row))
            self.post_message(self.Highlighted(self, self.selected_task))
        if scroll and self.row_count:
            self.scroll_to_region(
                Region(int(self.scroll_x), row + 1, max(1, self.size.width), 1),
                animate=False,
                spacing=Spacing(1, 0, 0, 0),
                force=True,
            )

    @property
    def selected_task(self) -> str | None:
        return self._order[self._cursor] if self._order else None

    def select_task(self, task: str) -> bool:
        """Select `task`'s row and keep it selected when rows move; False if it is not shown."""
        self.pinned = self._place(task) or self.pinned
        return task in self._keyed

    def _place(self, task: str) -> bool:
        if task not in self._keyed:
            return False
        self._move_cursor(self.get_row_index(task))
        return True

    def get_row_index(self, task: str) -> int:
        return self._row_index()[task]

    def _row_index(self) -> dict[str, int]:
        if self._rows is None:
            self._rows = {task: i for i, task in enumerate(self._order)}
        return self._rows

    def shown_tasks(self) -> list[str]:
        """Tasks in the order they are shown (tests read this)."""
        return list(self._order)

    def row_text(self, task: str) -> list[str]:
        """The text of each cell of `task`'s row, as drawn now (tests read this)."""
        return [cell.plain for cell in self._cells(self._runs[task], self.clock())]

    def last_line(self, task: str) -> str:
        """The run's last log line as the list knows it ("" before it was read)."""
        return self._last.get(task, "")

    # ------------------------------------------------------------------ content
    def _cells(self, run: RunView, now: float) -> list[Text]:
        last = self._last.get(run.task, "")
        return [c.cell(run, Row(now, last, w)) for c, w in zip(self.columns, self.widths, strict=True)]

    def _matches(self, run: RunView) -> bool:
        if not self._terms:
            return True
        task = run.task
        return matching.matches(self._terms, self._hay[task], lambda: self._params_of(task))

    def _params_of(self, task: str) -> dict[str, str]:
        params = self._params.get(task)
        if params is None:
            params = self._params[task] = matching.params_of(task)
        return params

    def _is_timed(self, run: RunView) -> bool:
        return run.state == RunState.RUNNING or (run.state == RunState.QUEUED and run.not_before is not None)

    def _set_run(self, run: RunView) -> None:
        self._runs[run.task] = run
        self._hay[run.task] = matching.hay(run.task, run.state.value)
        self._sort_keys[run.task] = self.sort.key(run)
        self._stale.add(run.task)
        if self._is_timed(run):
            self._timed.add(run.task)
        else:
            self._timed.discard(run.task)

    def _observe_metrics(self, runs: list[RunView]) -> None:
        """A metric column appeared: it joins the columns (fitted to the width, every row drawn again)."""
        if self.metric_columns.observe(runs):
            self.set_columns(with_metrics(self.base_columns, self.metric_columns))

    def load(self, runs: Iterable[RunView]) -> None:
        """Show these runs (start-up, or a new filter): one pass, rows already in order."""
        selected = self.selected_task if self.pinned else None
        runs = list(runs)
        self._observe_metrics(runs)
        for run in runs:
            self._set_run(run)
        keys = self._sort_keys
        terms = self._terms
        if not terms:
            shown = list(self._runs)
        elif all(t.key is None for t in terms):  # plain words (most filters): no call per run
            words = [t.text for t in terms]
            shown = [task for task, hay in self._hay.items() if all(w in hay for w in words)]
        else:
            shown = [task for task, run in self._runs.items() if self._matches(run)]
        shown.sort(key=keys.__getitem__)
        self._order = shown
        self._rows = None
        self._keyed = {task: keys[task] for task in shown}
        self._needs_sort = False
        self._rows_changed()
        if selected is not None and selected in self._keyed:
            self._place(selected)
        else:
            self._move_cursor(0)

    def apply(self, runs: Iterable[RunView]) -> set[str]:
        """Bring the rows of these (changed) runs up to date: only rows on screen are repainted.
        Returns the tasks that left the list because they no longer match the filter."""
        removed: set[str] = set()
        repaint: list[str] = []
        runs = list(runs)
        self._observe_metrics(runs)
        for run in runs:
            task = run.task
            self._set_run(run)
            match = self._matches(run)
            if task not in self._keyed:
                if match:
                    if self._rows is not None:
                        self._rows[task] = len(self._order)
                    self._order.append(task)
                    self._keyed[task] = self._sort_keys[task]
                    self._needs_sort = True
                    removed.discard(task)
                    repaint.append(task)
                continue
            if not match:
                removed.add(task)
                del self._keyed[task]
                continue
            repaint.append(task)
            if self._keyed[task] != self._sort_keys[task]:
                self._needs_sort = True
        if removed:
            selected = self.selected_task
            self._order = [task for task in self._order if task not in removed]
            self._rows = None
            self._rows_changed()
            if selected is not None and selected not in removed and self.pinned:
                self._place(selected)
        elif repaint:
            self._refresh_tasks(repaint)
            if len(self._order) != self.virtual_size.height - 1:
                self._rows_changed()
        return removed

    def set_last_lines(self, lines: dict[str, str]) -> None:
        changed = []
        for task, line in lines.items():
            if self._last.get(task) == line:
                continue
            self._last[task] = line
            if task in self._runs:
                self._stale.add(task)
                changed.append(task)
        self._refresh_tasks(changed)

    def tick(self) -> None:
        """Refresh the clock-driven cells (elapsed time, retry countdown): only rows on screen repaint."""
        self._stale.update(self._timed)
        self._refresh_tasks(self._timed)

    def set_filter(self, text: str) -> None:
        terms = matching.parse(text)
        self.filter_text = text.strip()
        if terms != self._terms:
            self._terms = terms
            self.load(())

    def set_sort(self, mode: SortMode) -> None:
        """Order the rows by `mode`; the cursor stays on its run if it was pinned."""
        if mode.name == self.sort.name:
            return
        self.sort = mode
        key = mode.key
        self._sort_keys = {task: key(run) for task, run in self._runs.items()}
        self.load(())

    def flush_sort(self, force: bool = False) -> None:
        """Re-order rows if a run moved (throttled on big tables); the cursor stays on its run."""
        if not self._needs_sort:
            return
        mono = time.monotonic()
        if not force and self.row_count > BIG_TABLE and mono - self._last_sort < SORT_INTERVAL:
            return
        selected = self.selected_task if self.pinned else None
        keys = self._sort_keys
        top, bottom = self._visible()
        shown = self._order[top:bottom]
        self._order.sort(key=keys.__getitem__)
        self._keyed = {task: keys[task] for task in self._order}
        self._rows = None
        self._needs_sort = False
        self._last_sort = mono
        self.sorts += 1
        if self._order[top:bottom] != shown:  # rows that changed in place were repainted already
            self.refresh()
        if selected is not None:
            self._place(selected)
        elif self._cursor != 0:
            self._move_cursor(0)

    # ------------------------------------------------------------------ painting
    def _rows_changed(self) -> None:
        """The number or order of rows changed: new scroll size, repaint everything on screen."""
        self._cursor = max(0, min(self._cursor, len(self._order) - 1))
        set_virtual_size(self, Size(sum(self.widths), len(self._order) + 1))
        self.refresh()

    def _visible(self) -> tuple[int, int]:
        top = int(self.scroll_y)
        return top, top + max(0, self.size.height - 1)

    def _refresh_rows(self, rows: Iterable[int]) -> None:
        top, bottom = self._visible()
        width = self.size.width
        for row in rows:
            if top <= row < bottom:
                self.refresh(Region(0, row - top + 1, width, 1))

    def _refresh_tasks(self, tasks: Iterable[str]) -> None:
        """Repaint the rows of these tasks that are on screen (nothing at all when none is)."""
        top, bottom = self._visible()
        if bottom - top >= len(self._order):
            rows = self._row_index()
            self._refresh_rows(rows[t] for t in tasks if t in rows)
            return
        order = self._order
        shown = set(tasks)
        self._refresh_rows(row for row in range(top, min(bottom, len(order))) if order[row] in shown)

    def _segments(self, task: str) -> list[list[Segment]]:
        """The row's cells rendered (without row or cursor styles), re-rendered only where the text changed."""
        cached = self._rendered.get(task)
        if cached is not None and task not in self._stale:
            return cached[1]
        cells = self._cells(self._runs[task], self.clock())
        keys = tuple((c.plain, str(c.style), c.justify) for c in cells)
        if cached is not None and cached[0] == keys:
            self._stale.discard(task)
            return cached[1]
        old_keys, old = cached if cached is not None else ((), [])
        segments = [
            old[i] if i < len(old_keys) and old_keys[i] == key else self._render_cell(cell, self.widths[i])
            for i, (cell, key) in enumerate(zip(cells, keys, strict=True))
        ]
        self._rendered[task] = (keys, segments)
        self._stale.discard(task)
        return segments

    def _render_cell(self, cell: Text, width: int) -> list[Segment]:
        """One cell as the DataTable renders it (a Padding of the Text, cropped to one line).

        Our cells are one-line Texts with one style; those are cut and padded here directly,
        which gives the same characters in the same styles as Rich's layout (the line is
        simplified afterwards, so how a cell is split into segments does not show) at a
        fraction of its cost. Anything else goes through Rich.
        """
        plain = cell.plain
        if "\t" in plain or "\n" in plain or any(span.style for span in cell.spans):
            return self._render_cell_with_rich(cell, width)
        style = self._text_style(cell.style)
        if cell.justify == "right":
            plain = plain.rstrip()
            if cell_len(plain) > width:
                plain = set_cell_size(plain, width)
            return [Segment(" " * (width - cell_len(plain)) + plain, style)]
        if cell.justify not in (None, "default", "left"):
            return self._render_cell_with_rich(cell, width)
        if cell_len(plain) > width:
            plain = set_cell_size(plain, width)
        pad = width - cell_len(plain)
        if cell.justify == "left":  # padded inside the Text: the padding takes its style
            return [Segment(plain + " " * pad, style)]
        return [Segment(plain, style), Segment(" " * pad)] if pad else [Segment(plain, style)]

    def _text_style(self, style: str | Style) -> Style | None:
        if isinstance(style, Style):
            return style
        if not style:
            return None
        parsed = self._styles.get(style)
        if parsed is None:
            parsed = self._styles[style] = self.app.console.get_style(style)
        return parsed

    def _render_cell_with_rich(self, cell: Text, width: int) -> list[Segment]:
        options = self._options.get(width)
        if options is None:
            options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
            self._options[width] = options
        return self.app.console.render_lines(Padding(cell, (0, 0)), options)[0]

    def render_lines(self, crop: Region) -> list[Strip]:
        if len(self._rendered) > MAX_CACHED_ROWS:
            self._trim_cache()
        self._frame = self._frame_styles()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _trim_cache(self) -> None:
        """Forget the rendered cells of rows off screen: the cache must not grow to every run ever shown
        (each row is a few dozen objects the garbage collector walks on every full pass)."""
        top, bottom = self._visible()
        keep = {task: self._rendered[task] for task in self._order[top:bottom] if task in self._rendered}
        self._rendered = keep
        self._metas.clear()

    def _frame_styles(self) -> tuple[Style, Style, Style, Style, int, int, int]:
        """What every line of a frame shares: base, header and cursor styles, width, scroll offset."""
        cursor = self.get_component_rich_style("runtable--cursor")
        post = Style.from_color(color=cursor.color) + Style.null()  # the cursor's colour wins (DataTable's default)
        header = self.get_component_styles("runtable--header").rich_style
        scroll_x, scroll_y = self.scroll_offset
        return self.rich_style, header, cursor, post, self.size.width, scroll_x, scroll_y

    def render_line(self, y: int) -> Strip:
        base, header, cursor_style, cursor_post, width, scroll_x, scroll_y = self._frame or self._frame_styles()
        if y == 0:
            cells = self._header_cells()
            row_style, component, post, row = header, _NO_STYLE, None, -1
        else:
            row = y - 1 + scroll_y
            if row >= len(self._order):
                return Strip.blank(width, base)
            cells = self._segments(self._order[row])
            is_cursor = row == self._cursor
            row_style = base
            component = cursor_style if is_cursor else _NO_STYLE
            post = cursor_post if is_cursor else None
        metas = self._metas.get(row)
        if metas is None:
            metas = self._metas[row] = [
                *(Style.from_meta({"row": row, "column": c}) for c in range(len(self.columns))),
                Style.from_meta({"row": row, "column": 0, "out_of_bounds": True}),
            ]
        # DataTable's cell styles: row + click meta + cursor, the cell's own, then the cursor's colour.
        # Cells never merge with each other (their metas differ), so merging equal styles within a
        # cell here gives what `Strip.simplify` would.
        line: list[Segment] = []
        append = line.append
        end = scroll_x + width
        x = 0
        for column, cell in enumerate(cells):
            pre = row_style + metas[column] + component
            last_text, last_style = "", None
            for text, style, _control in cell:
                styled = pre + style if style is not None else pre
                if post is not None:
                    styled = styled + post
                if last_text and styled == last_style:
                    last_text += text
                    continue
                if last_text:
                    append(Segment(last_text, last_style))
                last_text, last_style = text, styled
            if last_text:
                append(Segment(last_text, last_style))
            x += self.widths[column]
            if x >= end:
                break  # the rest is cut off anyway
        else:
            remaining = max(0, width - x)
            if remaining:
                append(Segment(" " * remaining, row_style + component + metas[-1]))
            x += remaining
        if x < end:  # narrower than the widget (never with a 200-cell last column): pad like DataTable
            return Strip(line_crop(line, scroll_x, end, x)).adjust_cell_length(width, base).simplify()
        return Strip(line_crop(line, scroll_x, end, x), width)

    def _header_cells(self) -> list[list[Segment]]:
        if self._header is None:
            self._header = [
                self._render_cell(Text(c.label, justify="right" if c.right else "left"), width)
                for c, width in zip(self.columns, self.widths, strict=True)
            ]
        return self._header
