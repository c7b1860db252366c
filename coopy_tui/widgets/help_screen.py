"""HelpScreen (`?`): every key, from the same table the bindings are made of."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from coopy_tui.keys import EXTRA_HELP, KEYS

NAVIGATION = ("next_stage", "prev_stage", "cursor_up", "cursor_down")
LEGEND = (
    "▶ running   · queued   ✓ done   ↷ skipped   ✗ failed   ⊘ cancelled\n"
    "state 'retry 5s': queued, waiting out the backoff before its next attempt"
)


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    navigation = [k for k in KEYS if k.action in NAVIGATION]
    for key in navigation + [k for k in KEYS if k.action not in NAVIGATION]:
        table.add_row(key.display, key.help)
    for keys, text in EXTRA_HELP:
        table.add_row(keys, text)
    return table


class HelpScreen(ModalScreen[None]):
    """A centred box listing the keys and the state symbols; any of esc, ?, q closes it."""

    BINDINGS = [
        Binding("escape,question_mark,q,enter", "dismiss_help", "close", key_display="esc"),
        Binding("down,j", "scroll_down", show=False),
        Binding("up,k", "scroll_up", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "CooPy keys"
            box.border_subtitle = "esc close"
            yield Static(help_table(), id="help-keys")
            yield Static(Text(LEGEND, style="dim"), id="help-legend")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_up(animate=False)
