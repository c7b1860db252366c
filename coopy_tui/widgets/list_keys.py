"""The keys a list on a dialog (the `!` notices, the summary's runs) moves by besides the arrows: j / k, g / G,
as in the run list, the help and the log view."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import OptionList

LIST_KEYS = [
    Binding("j", "list('cursor_down')", "down", show=False),
    Binding("k", "list('cursor_up')", "up", show=False),
    Binding("g", "list('first')", "first", show=False),
    Binding("G", "list('last')", "last", show=False),
]


def move(screen: Screen[Any], action: str) -> None:
    """Run the screen's list's own action (`cursor_down`, `first`, ...); nothing when it has no list."""
    for options in screen.query(OptionList).results(OptionList):
        getattr(options, f"action_{action}")()
