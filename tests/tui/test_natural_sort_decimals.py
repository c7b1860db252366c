"""The name sort orders decimal and exponent values by value (lr 0.1, 0.01 and 0.001 were equal: `0`, `.`,
then 1 == 01 == 001 as integers, so the rows came in whatever order they arrived)."""

from __future__ import annotations

from coopy_tui.sorting import natural_key


def test_decimals_and_exponents_sort_by_value() -> None:
    names = ["lr=0.1", "lr=0.001", "lr=1", "lr=0.01", "lr=1e-4", "lr=0.05", "lr=10"]
    assert sorted(names, key=natural_key) == ["lr=1e-4", "lr=0.001", "lr=0.01", "lr=0.05", "lr=0.1", "lr=1", "lr=10"]
    assert sorted(reversed(names), key=natural_key) == sorted(names, key=natural_key), "no two are equal"


def test_integers_and_params_keep_their_order() -> None:
    names = ["lr=0.1,seed=10", "lr=0.1,seed=2", "lr=0.01,seed=1", "model=b", "model=A"]
    assert sorted(names, key=natural_key) == ["lr=0.01,seed=1", "lr=0.1,seed=2", "lr=0.1,seed=10", "model=A", "model=b"]
