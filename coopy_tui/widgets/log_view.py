"""LogView: a bounded, virtual list of log lines (the toolong pattern, much reduced).

Only the visible lines are rendered; old lines fall off the front (`max_lines`),
so a log that prints all day costs the same as one that printed a screenful.
An unfinished last line (a progress bar without its newline yet) is shown and
replaced as it grows. The text is never parsed as markup. A search term (`set_search`) marks
its matches in reverse video; `find` moves to the next or previous line that has one.

Long lines are cut (scroll sideways) or, with `set_wrap(True)`, wrapped: then a screen row is a piece
of a line (`_rows`: the line and the cell it starts at), rebuilt when the lines or the width change.
Page moves are immediate (no animation): a key pressed while a page scrolled used to land short.
`Moved` tells the screen when following starts or stops, or the reader's place changes while not
following, for its indicator (`position_text`).
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from coopy_tui.format import counted
from coopy_tui.widgets.scrolling import set_virtual_size

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_MATCH = Style(reverse=True)
_CURRENT = Style(reverse=True, bold=True, underline=True)


def _printable(line: str) -> str:
    """Tabs expanded and control characters (escape codes) made visible, never interpreted."""
    return _CONTROL.sub("\ufffd", line.expandtabs())


class LogView(ScrollView):
    """Scrollable log lines; follows the end unless the reader scrolled up."""

    COMPONENT_CLASSES = {"logview--placeholder"}

    class Moved(Message):
        """Following started or stopped, or the place of a reader who scrolled up changed."""

    def __init__(
        self,
        max_lines: int = 1000,
        placeholder: str = "",
        *,
        focusable: bool = True,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.can_focus = focusable
        self.max_lines = max_lines
        self.placeholder = placeholder
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._partial = ""
        self._width = 0
        self._follow = True  # stay at the end until the reader scrolls up
        self._term = ""  # what is searched for (lower case); "" none
        self._dropped = 0  # lines that fell off the front since the last replace (keeps match positions)
        self._current: int | None = None  # the current match: its line, counted from the first line ever shown
        self.wrap = False  # long lines wrapped (True) or cut, the rest a sideways scroll away (False)
        self._rows: list[tuple[int, int]] | None = None  # wrapped: (line, first cell) of each row; None: stale
        self._rows_width = 0
        self._mark = 0  # lines ever added when the reader stopped following (new lines below are counted)
        self._cut = False  # the first line shown is not the log's first: lines are numbered `of the last N`

    def set_placeholder(self, text: str) -> None:
        """What to show while there are no lines (no run selected, no log yet)."""
        if text != self.placeholder:
            self.placeholder = text
            self.refresh()

    @property
    def complete_lines(self) -> list[str]:
        return list(self._lines)

    @property
    def partial(self) -> str:
        return self._partial

    @property
    def lines(self) -> list[str]:
        """Everything shown, the unfinished last line included."""
        return [*self._lines, *([self._partial] if self._partial else [])]

    @property
    def line_count(self) -> int:
        return len(self._lines) + (1 if self._partial else 0)

    def clear(self) -> None:
        self._cut = False
        self._lines.clear()
        self._partial = ""
        self._width = 0
        self._dropped = 0
        self._current = None
        self._resize()
        self.scroll_to(0, 0, animate=False, immediate=True)

    def replace(self, lines: Iterable[str], partial: str = "", cut: bool = False) -> None:
        """Show exactly `lines` (the pane switched to another log); `cut`: the file has lines before them."""
        self._cut = cut
        self._lines.clear()
        self._width = 0
        self._partial = ""
        self._dropped = 0
        self._current = None
        self._set_follow(True)
        self.append(lines, partial, follow=True)

    def append(self, lines: Iterable[str], partial: str = "", follow: bool | None = None) -> None:
        """Add complete lines; `partial` replaces the previous unfinished line."""
        at_end = self._follow if follow is None else follow
        width = self._width
        full = self._lines.maxlen
        for line in lines:
            line = _printable(line)
            if len(self._lines) == full:
                self._dropped += 1
            self._lines.append(line)
            width = max(width, cell_len(line))
        self._partial = _printable(partial)
        self._width = max(width, cell_len(self._partial))
        self._resize()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif lines:
            self.post_message(self.Moved())  # more new lines below
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        following = self._follow
        if new_value < old_value or new_value >= self.max_scroll_y:
            self._set_follow(new_value >= self.max_scroll_y)
        if following == self._follow and not self._follow and new_value != old_value:
            self.post_message(self.Moved())  # the reader moved: the place shown changes

    def _set_follow(self, follow: bool) -> None:
        if follow != self._follow:
            self._follow = follow
            self._mark = self._added
            self.post_message(self.Moved())

    @property
    def cut(self) -> bool:
        """The first line shown is not the log's first (only its tail was read, or lines fell off the front)."""
        return self._cut or self._dropped > 0

    def follow_end(self) -> None:
        """Go to the last line and follow from there (`G`), also when the view is already at its end (a
        search in a log shorter than the view paused following without moving it)."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._set_follow(True)

    @property
    def following(self) -> bool:
        """At the end, showing new lines as they come."""
        return self._follow

    @property
    def _added(self) -> int:
        return self._dropped + len(self._lines)

    def on_resize(self) -> None:
        if self.wrap:
            self._rows = None
            self._resize()
        if self._follow:  # after the layout settles, when max_scroll_y is the new one
            self.call_after_refresh(self._end_if_following)

    def _end_if_following(self) -> None:
        """A resize's scroll to the end, unless the reader left the end meanwhile: a `g` handled between
        the resize and the next frame was undone by it (the first key in the log view seemed lost)."""
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def _resize(self) -> None:
        if self.wrap:
            self._rows = None
            size = Size(max(1, self.scrollable_content_region.width), len(self._wrapped()))
        else:
            size = Size(self._width, self.line_count)
        set_virtual_size(self, size)  # a new line lays out nothing else
        self.refresh()

    # ------------------------------------------------------------------ wrapping and the reader's place
    def _line(self, index: int) -> str:
        return self._lines[index] if index < len(self._lines) else self._partial

    def _wrapped(self) -> list[tuple[int, int]]:
        """Each screen row's (line, first cell) when lines wrap at the view's width."""
        width = max(1, self.scrollable_content_region.width)
        if self._rows is None or self._rows_width != width:
            rows: list[tuple[int, int]] = []
            for i in range(self.line_count):
                cells = cell_len(self._line(i))
                rows.extend((i, x) for x in range(0, max(1, cells), width))
            self._rows, self._rows_width = rows, width
        return self._rows

    def _row_of(self, line: int) -> int:
        """The first screen row of `line`."""
        if not self.wrap:
            return line
        rows = self._wrapped()
        return bisect.bisect_left(rows, (line, 0))

    def _line_at(self, row: int) -> int:
        """The line shown on screen row `row`."""
        if not self.wrap:
            return row
        rows = self._wrapped()
        return rows[min(row, len(rows) - 1)][0] if rows else 0

    def set_wrap(self, wrap: bool) -> None:
        """Wrap long lines, or cut them; the line at the top stays at the top (or the end stays followed)."""
        if wrap == self.wrap:
            return
        top = self._line_at(int(self.scroll_y))
        self.wrap = wrap
        self._rows = None
        self._resize()
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.scroll_to(x=0, y=self._row_of(top), animate=False, immediate=True)
        self.post_message(self.Moved())

    def position_text(self) -> str:
        """`following` or `paused at line 120 of 400 · 15 new lines below`."""
        if self._follow or not self.line_count:
            return "following"
        top = self._line_at(int(self.scroll_y)) + 1
        of = f"the last {self.line_count}" if self.cut else str(self.line_count)
        text = f"paused at line {top} of {of}"
        new = self._added - self._mark
        return text + (f" · {counted(new, 'new line')} below" if new > 0 else "")

    # ------------------------------------------------------------------ moves: immediate, never animated
    def page(self, pages: int) -> None:
        """Down (or up, `pages` < 0) by whole views, at once: the next key starts where this one ended."""
        height = max(1, self.scrollable_content_region.height)
        self.scroll_to(y=self.scroll_y + pages * height, animate=False, immediate=True)

    def action_page_down(self) -> None:
        self.page(1)

    def action_page_up(self) -> None:
        self.page(-1)

    def action_scroll_down(self) -> None:
        self.scroll_to(y=self.scroll_y + 1, animate=False, immediate=True)

    def action_scroll_up(self) -> None:
        self.scroll_to(y=self.scroll_y - 1, animate=False, immediate=True)

    def action_scroll_home(self) -> None:
        """The first line, and no longer following: also when the view has not reached the end yet (it
        just opened: its scroll to the end waits for the next frame), when scrolling to 0 changes
        nothing that would tell it the reader left."""
        self.scroll_to(0, 0, animate=False, immediate=True)
        if self.max_scroll_y > 0:
            self._set_follow(False)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    # ------------------------------------------------------------------ search
    def set_search(self, term: str) -> int:
        """Mark every match of `term` (case-blind); returns how many lines have one."""
        self._term = term.lower()
        self._current = None
        self.refresh()
        return len(self.match_lines())

    @property
    def search_term(self) -> str:
        return self._term

    def match_lines(self) -> list[int]:
        """Indexes of the shown lines that contain the term."""
        if not self._term:
            return []
        term = self._term
        return [i for i, line in enumerate(self.lines) if term in line.lower()]

    @property
    def current_match(self) -> int | None:
        """The line (index into `lines`) of the current match, if any."""
        return None if self._current is None else self._current - self._dropped

    def find(self, forward: bool = True) -> tuple[int, int] | None:
        """Go to the next (or previous) matching line: after the current match, or from the top of the
        view when there is none; wraps around. Returns (position, count) of the match, or None."""
        matches = self.match_lines()
        if not matches:
            self._current = None
            self.refresh()
            return None
        current = self.current_match
        if current is not None and current in matches:
            at = current
        else:
            top = int(self.scroll_y)
            at = self._line_at(top) - 1 if forward else self._line_at(top + self.scrollable_content_region.height)
        if forward:
            after = [i for i in matches if i > at]
            line = after[0] if after else matches[0]
        else:
            before = [i for i in matches if i < at]
            line = before[-1] if before else matches[-1]
        self._current = line + self._dropped
        height = max(1, self.scrollable_content_region.height)
        self._set_follow(False)
        self.scroll_to(y=max(0, self._row_of(line) - height // 2), animate=False, immediate=True)
        self.refresh()
        return matches.index(line) + 1, len(matches)

    def _marked(self, text: str, index: int, style: Style) -> list[Segment]:
        term = self._term
        lower = text.lower()
        mark = _CURRENT if index == self.current_match else _MATCH
        segments = []
        start = 0
        while (at := lower.find(term, start)) >= 0:
            if at > start:
                segments.append(Segment(text[start:at], style))
            segments.append(Segment(text[at : at + len(term)], style + mark))
            start = at + len(term)
        if start < len(text):
            segments.append(Segment(text[start:], style))
        return segments

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if self.wrap and self.line_count:
            rows = self._wrapped()
            if index >= len(rows):
                return Strip.blank(width, style)
            index, scroll_x = rows[index]  # the line, and where on it this row starts
        if index < len(self._lines):
            text = self._lines[index]
        elif index == len(self._lines) and self._partial:
            text = self._partial
        elif index == 0 and not self._lines and self.placeholder:
            muted = style + self.get_component_rich_style("logview--placeholder")
            return Strip([Segment(self.placeholder, muted)]).crop_extend(0, width, style)
        else:
            return Strip.blank(width, style)
        if self._term and self._term in text.lower():
            strip = Strip(self._marked(text, index, style), cell_len(text))
        else:
            strip = Strip([Segment(text, style)], cell_len(text))
        return strip.crop_extend(scroll_x, scroll_x + width, style)
