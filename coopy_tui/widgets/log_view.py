"""LogView: a bounded, virtual list of log lines (the toolong pattern, much reduced).

Only the visible lines are rendered; old lines fall off the front (`max_lines`),
so a log that prints all day costs the same as one that printed a screenful.
An unfinished last line (a progress bar without its newline yet) is shown and
replaced as it grows. The text is never parsed as markup.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from rich.cells import cell_len
from rich.segment import Segment
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from coopy_tui.widgets.scrolling import set_virtual_size

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _printable(line: str) -> str:
    """Tabs expanded and control characters (escape codes) made visible, never interpreted."""
    return _CONTROL.sub("\ufffd", line.expandtabs())


class LogView(ScrollView):
    """Scrollable log lines; follows the end unless the reader scrolled up."""

    COMPONENT_CLASSES = {"logview--placeholder"}

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
        self._lines.clear()
        self._partial = ""
        self._width = 0
        self._resize()
        self.scroll_to(0, 0, animate=False, immediate=True)

    def replace(self, lines: Iterable[str], partial: str = "") -> None:
        """Show exactly `lines` (the pane switched to another log)."""
        self._lines.clear()
        self._width = 0
        self._partial = ""
        self.append(lines, partial, follow=True)

    def append(self, lines: Iterable[str], partial: str = "", follow: bool | None = None) -> None:
        """Add complete lines; `partial` replaces the previous unfinished line."""
        at_end = self._follow if follow is None else follow
        width = self._width
        for line in lines:
            line = _printable(line)
            self._lines.append(line)
            width = max(width, cell_len(line))
        self._partial = _printable(partial)
        self._width = max(width, cell_len(self._partial))
        self._resize()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < old_value or new_value >= self.max_scroll_y:
            self._follow = new_value >= self.max_scroll_y

    def on_resize(self) -> None:
        if self._follow:  # after the layout settles, when max_scroll_y is the new one
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    def _resize(self) -> None:
        set_virtual_size(self, Size(self._width, self.line_count))  # a new line lays out nothing else
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if index < len(self._lines):
            text = self._lines[index]
        elif index == len(self._lines) and self._partial:
            text = self._partial
        elif index == 0 and not self._lines and self.placeholder:
            muted = style + self.get_component_rich_style("logview--placeholder")
            return Strip([Segment(self.placeholder, muted)]).crop_extend(0, width, style)
        else:
            return Strip.blank(width, style)
        strip = Strip([Segment(text, style)], cell_len(text))
        return strip.crop_extend(scroll_x, scroll_x + width, style)
