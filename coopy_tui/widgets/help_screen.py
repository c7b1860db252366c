"""HelpScreen (`?`): every key, from the same tables the bindings are made of, as bound now.

A keymap (`[tui.keys]`) shows through: the keys listed are the ones that work.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from coopy_tui.keys import EXTRA_HELP, KEYS, LOG_KEYS, NAVIGATION, Key

LEGEND = (
    "▶ running   · queued   ◦ waiting for what it needs   ✓ done   ↷ skipped\n"
    "✗ failed   ⊘ cancelled   ⊗ blocked (a run it needs failed for good; retry that one)\n"
    "state 'retry 5s': queued, waiting out the backoff before its next attempt"
)


def shown_keys(key: Key, keymap: Mapping[str, str]) -> str:
    """The key's keys as bound: the keymap's if it rebinds them (tab / shift+tab stay)."""
    rebound = keymap.get(key.id)
    if rebound is None:
        return key.display
    keys = [k.strip() for k in rebound.split(",") if k.strip()]
    if key.priority_keys:
        keys.insert(0, key.priority_keys)
    return "  ".join(keys)


def help_table(keymap: Mapping[str, str] | None = None) -> Table:
    keymap = keymap or {}
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    navigation = [k for k in KEYS if k.action in NAVIGATION]
    for key in navigation + [k for k in KEYS if k.action not in NAVIGATION]:
        table.add_row(shown_keys(key, keymap), key.help)
    for keys, text in EXTRA_HELP:
        table.add_row(keys, text)
    table.add_row("", "")
    table.add_row(Text("in the log view", style="italic"), "")
    for key in LOG_KEYS:
        table.add_row(shown_keys(key, keymap), key.help)
    return table


class HelpScreen(ModalScreen[None]):
    """A centred box listing the keys and the state symbols; any of esc, ?, q closes it."""

    BINDINGS = [
        Binding("escape,question_mark,q,enter", "dismiss_help", "close", key_display="esc"),
        Binding("down,j", "scroll_down", show=False),
        Binding("up,k", "scroll_up", show=False),
    ]

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "CooPy keys"
            box.border_subtitle = "↑↓ scroll · esc close"
            yield Static(help_table(self.keymap), id="help-keys")
            yield Static(Text(LEGEND, style="dim"), id="help-legend")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        # immediate: a scroll left for after the next frame starts from the old target, so a burst of
        # ten `j` before that frame moved one line
        self.query_one("#help-box", VerticalScroll).scroll_down(animate=False, immediate=True)

    def action_scroll_up(self) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_up(animate=False, immediate=True)
