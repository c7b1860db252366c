"""CellTable: a scrolling table that draws only the rows on screen, from per-cell segments cached until
that cell's text changes (the drawing half of RunTable; which rows, their order and the cursor are its).

It draws exactly what Textual's DataTable drew (same cell rendering, styles and component classes).
Drawing a frame costs what changed in it: a finished row is kept as the Strip Textual got last
time and handed over again while its cells, the cursor on it and the styles stay the same, so
Textual's own caches on that Strip (cutting it where widgets overlap, colour filters) stay warm.
That is why `render_lines` is ours: the widget has no border or padding, and Textual's line cache
would wrap every line in a new Strip. The cells of the widths the table had last are kept, so
`tab` (the current panel is wider) does not render every row again.

A subclass says what the rows are: `_row_total`, `_task_at`, `_tasks_between` and `_row_cells`
(a row is named by its task), and keeps `_cursor` on a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.console import ConsoleOptions
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual._segment_tools import line_crop
from textual.color import Color
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from coopy_tui.widgets.run_columns import Column, fit
from coopy_tui.widgets.scrolling import set_virtual_size

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


class CellTable(ScrollView):
    """Rows of cells under a header line, drawn row by row from cached segments."""

    def __init__(self, task_width: int, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.task_width = task_width
        self.all_columns = tuple(columns)
        self.columns: tuple[Column, ...] = ()  # the ones shown at the current width
        self.widths: list[int] = []
        self._fitted_to = -1
        self._rendered: dict[str, Rendered] = {}  # task -> cells, segments (at the current width)
        self._kept: dict[int, dict[str, Rendered]] = {}  # width -> the cells rendered at it before
        self._lines: dict[str, tuple[list[list[Segment]], bool, Strip]] = {}  # task -> segments, cursor, line
        self._stale: set[str] = set()  # tasks whose cached cells may be out of date
        self._cursor = 0
        self._options: dict[int, ConsoleOptions] = {}
        self._header: list[list[Segment]] | None = None
        self._header_line: Strip | None = None
        self._blank: Strip | None = None
        self._styles: dict[str, Style] = {}  # parsed text styles
        self._metas: list[Style] = []  # each cell's metadata (as DataTable's, without the row)
        self._frame: _Frame | None = None  # see _frame_styles
        self._fit(sum(c.width for c in columns) + task_width + 3 + 40)

    # ------------------------------------------------------------------ what the rows are (the subclass's)
    def _row_total(self) -> int:
        raise NotImplementedError

    def _task_at(self, row: int) -> str:
        raise NotImplementedError

    def _tasks_between(self, top: int, bottom: int) -> list[str]:
        raise NotImplementedError

    def _row_cells(self, task: str) -> list[Text]:
        raise NotImplementedError

    def _task_wants(self) -> tuple[int, ...]:
        """The widths the name column reads well at, widest first (run_columns.fit)."""
        return (self.task_width,)

    def _least_width(self) -> int:
        """Lay the columns out at least this wide (wider than the widget: it scrolls sideways)."""
        return 0

    def _label(self, column: Column, width: int) -> str:
        """A column's header text at `width` cells."""
        return column.label

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
        widths = fit(self.all_columns, max(width, self._least_width()), self._task_wants())
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

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """Fit the columns inside the layout pass that gave the new width (Textual's private hook: the Resize
        event comes after that pass's frame, which then showed the old columns cut or padded, and the fit
        laid out and drew the whole screen a second time: two frames for every `tab`)."""
        if size.width and size.width != self.outer_size.width and self._refit(size.width):
            # ScrollView sets the scrollbars from our virtual size just below
            self.set_reactive(ScrollView.virtual_size, self._content_size())
        return super()._size_updated(size, virtual_size, container_size, layout)

    def on_resize(self, event: events.Resize) -> None:
        """Fitted in the layout pass already (above); this one is for a Textual whose private hook changed."""
        if self._refit(event.size.width):
            set_virtual_size(self, self._content_size())
            self.refresh()

    def _refit(self, outer_width: int) -> bool:
        """Fit the columns to the widget's new outer width; whether they changed."""
        old = self._fitted_to
        self._fit(outer_width - SCROLLBAR)  # a scrollbar may take the last column
        return self._fitted_to != old

    def _content_size(self) -> Size:
        """The scrollable size: every column, every row and the header line."""
        return Size(sum(self.widths), self._row_total() + 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._frame = None  # the styles a frame is drawn with changed (focus, theme): lines drawn anew
        self._lines = {}
        self._header_line = None
        self._blank = None
        self._styles = {}

    # ------------------------------------------------------------------ painting
    def _visible(self) -> tuple[int, int]:
        top = int(self.scroll_y)
        return top, top + max(0, self.size.height - 1)

    def _refresh_rows(self, rows: Iterable[int]) -> None:
        top, bottom = self._visible()
        width = self.size.width
        for row in rows:
            if top <= row < bottom:
                self.refresh(Region(0, row - top + 1, width, 1))

    def _segments(self, task: str) -> list[list[Segment]]:
        """The row's cells rendered (without row or cursor styles), re-rendered only where the text changed."""
        cached = self._rendered.get(task)
        if cached is not None and task not in self._stale:
            return cached[1]
        cells = self._row_cells(task)
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
                plain = _cut(plain, width)
            return [Segment(" " * (width - cell_len(plain)) + plain, style)]
        if cell.justify not in (None, "default", "left"):
            return self._render_cell_with_rich(cell, width)
        if cell_len(plain) > width:
            plain = _cut(plain, width)
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
            options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True, overflow="ellipsis")
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
        shown = self._tasks_between(top, bottom)
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
        if row >= self._row_total():
            if self._blank is None:
                self._blank = Strip.blank(frame.width, frame.base)
            return self._blank
        task = self._task_at(row)
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
                self._render_cell(Text(self._label(c, width), justify="right" if c.right else "left"), width)
                for c, width in zip(self.columns, self.widths, strict=True)
            ]
        return self._header


def _cut(plain: str, width: int) -> str:
    """A value longer than its column, cut to it with `…` at the end: a person sees that more is there."""
    if width < 2:
        return set_cell_size(plain, width)
    return set_cell_size(set_cell_size(plain, width - 1).rstrip() + "…", width)
