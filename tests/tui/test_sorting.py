"""Sort orders: the natural name order and the cycle `o` steps through."""

from __future__ import annotations

from coopy_tui.sorting import SORTS, natural_key, next_sort


def test_natural_order_and_the_sort_cycle() -> None:
    names = ["lr=10", "lr=2", "lr=1", "LR=3", "lr=1,seed=10", "lr=1,seed=9"]
    assert sorted(names, key=natural_key) == ["lr=1", "lr=1,seed=9", "lr=1,seed=10", "lr=2", "LR=3", "lr=10"]
    mode = SORTS[0]
    seen = [mode.name]
    for _ in SORTS:
        mode = next_sort(mode)
        seen.append(mode.name)
    assert seen == ["queue", "name", "state", "elapsed", "queue"]
