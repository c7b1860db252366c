"""FilterBar (`/`): narrows every task list to runs whose task or state contains all the words."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class FilterBar(Input):
    """Enter keeps the filter and returns to the list; esc clears it and hides the bar."""

    BINDINGS = [Binding("escape", "clear_filter", "clear filter", show=False)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter: words in the task name or state (esc clears)", id=id)
        self.cursor_blink = False  # a blinking cursor makes screenshots differ

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Submitted(self, "", None))
