"""The task filter (`/`): which runs a line of words keeps (the rules are `coopy_tui.listing`'s), and
how the filter row counts them."""

from __future__ import annotations

from coopy_tui.listing import Term, hay, matches, params_of, parse

__all__ = ["Term", "count_text", "hay", "matches", "params_of", "parse"]


def count_text(here: int, here_all: int, shown: int, every: int) -> str:
    """`12 of 400 here · 48 of 1600 in all stages`, or `no matches` (the words match nothing)."""
    if not shown:
        return "no matches"
    if not here:
        return f"no matches here · {shown} in other stages"
    return f"{here} of {here_all} here · {shown} of {every} in all stages"
