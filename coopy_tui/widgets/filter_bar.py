"""FilterBar (`/`): narrows every task list to the runs that match all the words (coopy_tui.matching)."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.geometry import Size
from textual.widgets import Input

from coopy_tui.widgets.scrolling import set_virtual_size


class FilterBar(Input):
    """Enter keeps the filter and returns to the list; esc clears it and hides the bar.

    `on_change` is called with the new text as it changes, in the same step as the keystroke: the
    lists are filtered before the next frame is drawn (a `Changed` message would be handled one
    frame later). `Changed` is still posted. `on_clear` is called on esc, for the same reason.
    """

    BINDINGS = [Binding("escape", "clear_filter", "clear filter", show=False)]
    hints = (  # the footer's keys while typing here (letters are typed, not commands)
        ("⏎", "keep it", ""),
        ("esc", "clear it", ""),
        ("", "words of the name or state · lr=1 exactly · lr=1* starts with · lr= any", ""),
    )

    def __init__(
        self,
        *,
        on_change: Callable[[str], None] | None = None,
        on_clear: Callable[[], None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(placeholder="filter: words of the name or state; lr=1 is exactly 1 (esc clears)", id=id)
        self.cursor_blink = False  # a blinking cursor makes screenshots differ
        self._on_change = on_change
        self._on_clear = on_clear

    def _watch_value(self, value: str) -> None:
        """Input's own watcher, without its layout of the whole screen at every keystroke.

        Input sets `virtual_size`, a reactive that lays out the screen (16 ms with 10,000 runs, the
        slowest key of the TUI bench). The bar's size is fixed (coopy.tcss, no auto dimensions): only
        its scroll range changes. Set here without a layout, Input's assignment finds it unchanged.
        """
        set_virtual_size(self, Size(self.content_width, 1))
        super()._watch_value(value)

    def watch_value(self, value: str) -> None:
        if self._on_change is not None:
            self._on_change(value)

    def action_clear_filter(self) -> None:
        """esc: cleared and closed in this keystroke's frame (`on_clear`), else through `Submitted`."""
        self.value = ""
        if self._on_clear is not None:
            self._on_clear()
        else:
            self.post_message(self.Submitted(self, "", None))
