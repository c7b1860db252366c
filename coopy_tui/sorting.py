"""How a task list can be sorted (`o` cycles through them): one list, so a new order is one entry.

The keys themselves are `coopy_tui.listing`'s. Every key ends with the run's `order` (first come, first
served), so equal rows keep a stable place.
"""

from __future__ import annotations

from dataclasses import dataclass

from coopy_tui.listing import SORT_KEYS, SortKey, natural_key

__all__ = ["SORTS", "SortMode", "natural_key", "next_sort"]


@dataclass(frozen=True)
class SortMode:
    name: str  # shown in the panel's border: `sort: name`; the engine knows the order by this name
    key: SortKey  # key(name, run)


SORTS: list[SortMode] = [SortMode(name, key) for name, key in SORT_KEYS.items()]


def next_sort(current: SortMode, sorts: list[SortMode] | None = None) -> SortMode:
    modes = sorts or SORTS
    names = [m.name for m in modes]
    i = names.index(current.name) if current.name in names else -1
    return modes[(i + 1) % len(modes)]
