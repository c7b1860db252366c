"""HelpScreen (`?`): the keys of the view you are in, as bound now, from the same tables the bindings are made of.

On the pipeline view: the key table (coopy_tui.keys), the list's own keys and the state symbols. On any other
screen (the log view, results, graph, a dialog): that screen's bindings, each with the key table's help when it
is a key of the table (the log view's are), else its own description. A keymap (`[tui.keys]`) shows through:
the keys listed are the ones that work there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from coopy_tui.keys import EXTRA_HELP, KEYS, LOG_KEYS, NAVIGATION, Key

LEGEND = (
    "▶ running   · queued   ◦ waiting for what it needs   ✓ done   ↷ skipped\n"
    "✗ failed   ⊘ cancelled   ⊗ blocked (a run it needs failed for good; retry that one)\n"
    "● marked (space; ctrl+a: every run listed; esc clears): c r + - act on the marked runs\n"
    "state 'retry 5s': queued, waiting out the backoff before its next attempt"
)
THIS_HELP = ("?", "These keys (the keys of the view you are in)")
Row = tuple[str, str]


def shown_keys(key: Key, keymap: Mapping[str, str]) -> str:
    """The key's keys as bound: the keymap's if it rebinds them (tab / shift+tab stay)."""
    rebound = keymap.get(key.id)
    if rebound is None:
        return key.display
    keys = [k.strip() for k in rebound.split(",") if k.strip()]
    if key.priority_keys:
        keys.insert(0, key.priority_keys)
    return "  ".join(keys) or "(ctrl+p)"  # its key went to another action (Key.yields): the palette has it


def main_rows(keymap: Mapping[str, str] | None = None) -> list[Row]:
    """The pipeline view's keys: moving around first, then the key table in its order, then the list's own."""
    keymap = keymap or {}
    navigation = [k for k in KEYS if k.action in NAVIGATION]
    rows = [(shown_keys(k, keymap), k.help) for k in navigation + [k for k in KEYS if k.action not in NAVIGATION]]
    return rows + list(EXTRA_HELP)


def screen_rows(screen: Screen[Any], keymap: Mapping[str, str] | None = None) -> list[Row]:
    """Another screen's keys: its bindings in their order, the keys of one action on one row."""
    keymap = keymap or {}
    table = {k.id: k for k in (*KEYS, *LOG_KEYS)}
    rows: list[Row] = []
    at: dict[str, int] = {}  # action -> its row
    for binding in Binding.make_bindings(type(screen).BINDINGS):
        known = table.get((binding.id or "").removesuffix(".priority"))
        if known is not None:
            if known.id not in at:
                at[known.id] = len(rows)
                rows.append((shown_keys(known, keymap), known.help))
            continue
        if not binding.description:
            continue  # moving focus between a dialog's buttons: nothing to say
        shown = screen.app.get_key_display(dataclasses.replace(binding, key_display=None))
        name = f"{binding.action}|{binding.description}"
        if name in at:
            keys, text = rows[at[name]]
            rows[at[name]] = (f"{keys}  {shown}", text)
        else:
            at[name] = len(rows)
            rows.append((shown, binding.description))
    extra: tuple[Row, ...] = getattr(screen, "HELP_EXTRA", ())  # keys its widgets handle (no binding of its own)
    return [*rows, *extra, THIS_HELP]


def help_table(keymap: Mapping[str, str] | None = None, rows: Sequence[Row] | None = None) -> Table:
    """The rows as a two-column table (default: the pipeline view's keys)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for keys, text in main_rows(keymap) if rows is None else rows:
        table.add_row(keys, text)
    return table


class HelpScreen(ModalScreen[None]):
    """A centred box listing the keys and the state symbols; any of esc, ?, q closes it."""

    BINDINGS = [
        Binding("escape,question_mark,q,enter", "dismiss_help", "close", key_display="esc"),
        Binding("down,j", "scroll_down", show=False),
        Binding("up,k", "scroll_up", show=False),
        Binding("g,home", "scroll_top", show=False),  # as in the list and the log view
        Binding("G,end", "scroll_bottom", show=False),
    ]

    def __init__(
        self,
        keymap: Mapping[str, str] | None = None,
        *,
        rows: Sequence[Row] | None = None,
        title: str = "CooPy keys: the pipeline view",
        legend: bool = True,
    ) -> None:
        super().__init__()
        self.keymap = dict(keymap or {})
        self.rows = list(rows) if rows is not None else main_rows(self.keymap)
        self.title_text = title
        self.legend = legend

    @classmethod
    def of(cls, screen: Screen[Any], keymap: Mapping[str, str] | None = None) -> HelpScreen:
        """The keys of another screen than the pipeline view (named after it: `LogScreen` is "log")."""
        view = type(screen).__name__.removesuffix("Screen").lower() or "this"
        return cls(keymap, rows=screen_rows(screen, keymap), title=f"CooPy keys: the {view} view", legend=False)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "↑↓ scroll · esc close"
            yield Static(help_table(self.keymap, self.rows), id="help-keys")
            if self.legend:
                yield Static(Text(LEGEND, style="dim"), id="help-legend")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        # immediate: a scroll left for after the next frame starts from the old target, so a burst of
        # ten `j` before that frame moved one line
        self.query_one("#help-box", VerticalScroll).scroll_down(animate=False, immediate=True)

    def action_scroll_up(self) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_up(animate=False, immediate=True)

    def action_scroll_top(self) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_home(animate=False, immediate=True)

    def action_scroll_bottom(self) -> None:
        self.query_one("#help-box", VerticalScroll).scroll_end(animate=False, immediate=True)
