"""RunTable: one stage's runs as a virtual list; only the rows on screen are ever rendered.

Textual's DataTable pays for every row on every change (re-measuring widths when rows
are added, rebuilding its row order and line offsets, re-rendering every visible cell
through Rich after any `update_cell`), which at 10,000 runs made a filter keystroke cost
a second and an idle screen several per cent of a CPU. This widget keeps the rows in a
`RunRows` (run_rows.py: the order and the filter, kept up to date run by run) and renders a
row only when it is on screen, from per-cell segments cached until that cell's text changes.
It draws exactly what the DataTable drew (same cell rendering, styles and component classes).

Drawing a frame costs what changed in it: a finished row is kept as the Strip Textual got last
time and handed over again while its cells, the cursor on it and the styles stay the same, so
Textual's own caches on that Strip (cutting it where widgets overlap, colour filters) stay warm.
That is why `render_lines` is ours: the widget has no border or padding, and Textual's line cache
would wrap every line in a new Strip. The cells of the widths the table had last are kept, so
`tab` (the current panel is wider) does not render every row again.

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
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.console import ConsoleOptions
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual._segment_tools import line_crop
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from coopy_core.model import RunState, RunView
from coopy_tui.listing import parse
from coopy_tui.sorting import SortMode
from coopy_tui.widgets.metric_columns import MetricColumns, with_metrics
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, Column, Row, fit, slurm_text
from coopy_tui.widgets.run_rows import RunRows
from coopy_tui.widgets.scrolling import set_virtual_size

__all__ = ["RunTable", "resources_text", "slurm_text"]

MAX_CACHED_ROWS = 160  # rendered rows kept; past this, only the rows on screen are kept
KEPT_WIDTHS = 2  # the cells of this many widths are kept (a panel is wider while it is the current one)
SCROLLBAR = 1  # cells kept free for the vertical scrollbar (scrollbar-size-vertical in coopy.tcss)

_NO_STYLE = Style()
Cell = tuple[str, str, str | None]  # what a cell's rendering depends on: text, style, justify
Rendered = tuple[tuple[Cell, ...], list[list[Segment]]]  # a row's cells and their segments


@dataclass(frozen=True, slots=True)
class _Frame:
    """What every line of a frame shares (worked out once per style change, not per line)."""

    base: Style
    header: Style
    cursor: Style
    post: Style  # the cursor's colour, applied last (DataTable's default)
    background: Color  # for the app's line filters
    width: int
    scroll_x: int


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
        self.rows = RunRows()
        self.columns: tuple[Column, ...] = ()  # the ones shown at the current width
        self.widths: list[int] = []
        self._fitted_to = -1
        self._rendered: dict[str, Rendered] = {}  # task -> cells, segments (at the current width)
        self._kept: dict[int, dict[str, Rendered]] = {}  # width -> the cells rendered at it before
        self._lines: dict[str, tuple[list[list[Segment]], bool, Strip]] = {}  # task -> segments, cursor, line
        self._fit(sum(c.width for c in columns) + task_width + 3 + 40)
        self._stale: set[str] = set()  # tasks whose cached cells may be out of date
        self._last: dict[str, str] = {}  # task -> last log line
        self._timed: set[str] = set()  # rows whose text changes with the clock
        self.filter_text = ""
        self._cursor = 0
        self._options: dict[int, ConsoleOptions] = {}
        self._header: list[list[Segment]] | None = None
        self._header_line: Strip | None = None
        self._blank: Strip | None = None
        self._styles: dict[str, Style] = {}  # parsed text styles
        self._metas: list[Style] = []  # each cell's metadata (as DataTable's, without the row)
        self._frame: _Frame | None = None  # see _frame_styles
        self.sorts = 0  # how many times the whole order was built (start-up, `o`): for tests and measurements
        self.pinned = False  # the user chose a row: follow that run instead of staying on top

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

    # ------------------------------------------------------------------ columns
    def _fit(self, width: int) -> None:
        """Choose the columns and their widths for `width` cells (a resize, or a longer task name)."""
        if width == self._fitted_to:
            return
        if self._fitted_to >= 0 and self._rendered:
            self._kept[self._fitted_to] = self._rendered
            while len(self._kept) > KEPT_WIDTHS:
                del self._kept[next(iter(self._kept))]
        self._fitted_to = width
        widths = fit(self.all_columns, width, self.task_width)
        shown = [(c, w) for c, w in zip(self.all_columns, widths, strict=True) if w > 0]
        self.columns = tuple(c for c, _w in shown)
        self.widths = [w for _c, w in shown]
        kept = self._kept.pop(width, None)
        self._rendered = kept or {}
        if kept:  # rendered at this width before: the cells are checked again, the segments kept
            self._stale.update(kept)
        self._lines = {}
        self._header = None
        self._header_line = None
        self._metas = []
        self._options = {}

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show these columns from now on (a metric appeared, say): fitted to the width, every row redrawn."""
        self.all_columns = tuple(columns)
        width = self._fitted_to if self._fitted_to >= 0 else self.size.width - SCROLLBAR
        self._fitted_to = -1
        self._kept = {}
        self._rendered = {}
        self._fit(width)
        self._rows_changed()

    def on_resize(self, event: events.Resize) -> None:
        old = self._fitted_to
        self._fit(event.size.width - SCROLLBAR)  # a scrollbar may take the last column
        if self._fitted_to != old:
            set_virtual_size(self, Size(sum(self.widths), len(self.rows) + 1))
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._frame = None  # the styles a frame is drawn with changed (focus, theme): lines drawn anew
        self._lines = {}
        self._header_line = None
        self._blank = None
        self._styles = {}

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
        return [c.cell(run, Row(now, last, w)) for c, w in zip(self.columns, self.widths, strict=True)]

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
            self.rows.set_filter(terms)
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
        set_virtual_size(self, Size(sum(self.widths), len(self.rows) + 1))
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
        row_of = self.rows.row_of
        rows = [row for task in tasks if (row := row_of(task)) is not None and top <= row < bottom]
        self._refresh_rows(rows)

    def _segments(self, task: str) -> list[list[Segment]]:
        """The row's cells rendered (without row or cursor styles), re-rendered only where the text changed."""
        cached = self._rendered.get(task)
        if cached is not None and task not in self._stale:
            return cached[1]
        cells = self._cells(self.rows.runs[task], self.clock())
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
        """The lines of `crop`, each the Strip handed over last time when nothing in it changed.

        What Textual's line cache would add for this widget (no border, padding, tint or opacity)
        is nothing but the app's line filters and the crop, done here the same way.
        """
        if len(self._rendered) > MAX_CACHED_ROWS or len(self._lines) > 2 * MAX_CACHED_ROWS:
            self._trim_cache()
        frame = self._frame = self._frame_styles()
        filters = self.app.get_line_filters()
        background = frame.background
        render_line = self.render_line
        strips = []
        for y in crop.line_range:
            strip = render_line(y)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        x1, x2 = crop.column_span
        if (x1, x2) != (0, frame.width):
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _trim_cache(self) -> None:
        """Forget the rendered cells of rows off screen: the cache must not grow to every run ever shown
        (each row is a few dozen objects the garbage collector walks on every full pass)."""
        top, bottom = self._visible()
        shown = self.rows.tasks(top, bottom)
        self._rendered = {task: self._rendered[task] for task in shown if task in self._rendered}
        self._lines = {task: self._lines[task] for task in shown if task in self._lines}

    def _frame_styles(self) -> _Frame:
        """What every line of a frame shares: base, header and cursor styles, width, scroll offset."""
        frame = self._frame
        width, scroll_x = self.size.width, int(self.scroll_x)
        if frame is not None and frame.width == width and frame.scroll_x == scroll_x:
            return frame
        cursor = self.get_component_rich_style("runtable--cursor")
        post = Style.from_color(color=cursor.color) + Style.null()  # the cursor's colour wins (DataTable's default)
        header = self.get_component_styles("runtable--header").rich_style
        if frame is not None:  # a new width or offset: every line is drawn again
            self._lines = {}
            self._header_line = None
            self._blank = None
        return _Frame(self.rich_style, header, cursor, post, self.background_colors[1], width, scroll_x)

    def render_line(self, y: int) -> Strip:
        frame = self._frame or self._frame_styles()
        if y == 0:
            if self._header_line is None:
                self._header_line = self._line(self._header_cells(), frame.header, _NO_STYLE, None, frame)
            return self._header_line
        row = y - 1 + int(self.scroll_y)
        if row >= len(self.rows):
            if self._blank is None:
                self._blank = Strip.blank(frame.width, frame.base)
            return self._blank
        task = self.rows.task_at(row)
        cells = self._segments(task)
        is_cursor = row == self._cursor
        cached = self._lines.get(task)
        if cached is not None and cached[0] is cells and cached[1] == is_cursor:
            return cached[2]
        if is_cursor:
            line = self._line(cells, frame.base, frame.cursor, frame.post, frame)
        else:
            line = self._line(cells, frame.base, _NO_STYLE, None, frame)
        self._lines[task] = (cells, is_cursor, line)
        return line

    def _line(
        self, cells: list[list[Segment]], row_style: Style, component: Style, post: Style | None, frame: _Frame
    ) -> Strip:
        """One line from its cells' segments: DataTable's cell styles (row + click meta + cursor, the cell's
        own, then the cursor's colour). Cells never merge with each other (their metas differ), so
        merging equal styles within a cell here gives what `Strip.simplify` would."""
        metas = self._metas
        if len(metas) != len(self.columns) + 1:
            metas = self._metas = [
                *(Style.from_meta({"column": c}) for c in range(len(self.columns))),
                Style.from_meta({"column": 0, "out_of_bounds": True}),
            ]
        width, scroll_x = frame.width, frame.scroll_x
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
            return Strip(line_crop(line, scroll_x, end, x)).adjust_cell_length(width, frame.base).simplify()
        return Strip(line_crop(line, scroll_x, end, x), width)

    def _header_cells(self) -> list[list[Segment]]:
        if self._header is None:
            self._header = [
                self._render_cell(Text(c.label, justify="right" if c.right else "left"), width)
                for c, width in zip(self.columns, self.widths, strict=True)
            ]
        return self._header
