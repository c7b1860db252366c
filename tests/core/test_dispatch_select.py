"""dispatch.select: which head of a resource stage is served next, as a pure function of heads and pools."""

from __future__ import annotations

from collections.abc import Mapping

from coopy_core.engine.dispatch import Head, select
from coopy_core.resources import Pools


class Free:
    """Pools with this much free per pool name."""

    def __init__(self, **free: float) -> None:
        self.free = free

    def can_serve(self, request: Mapping[str, float]) -> bool:
        return all(self.free.get(name, 0) >= amount for name, amount in request.items())


def head(order: int, stage: str, **request: float) -> Head:
    return Head(order, stage, f"t{order}", request)


def test_no_heads_no_pick() -> None:
    assert select([], Free(gpu=4)) is None


def test_the_head_that_waited_longest_is_served_first() -> None:
    heads = [head(5, "b", gpu=1), head(2, "a", gpu=1), head(9, "c", gpu=1)]
    assert select(heads, Free(gpu=1)) == heads[1]


def test_a_pool_the_oldest_cannot_get_is_held_back_for_it() -> None:
    """A 2-GPU run waiting longest is not overtaken by a younger 1-GPU run (no backfill)."""
    heads = [head(1, "big", gpu=2), head(2, "small", gpu=1)]
    assert select(heads, Free(gpu=1)) is None


def test_a_younger_head_on_other_pools_is_served_beside_a_held_pool() -> None:
    heads = [head(1, "big", gpu=2), head(2, "small", gpu=1), head(3, "cpu", cpu=4)]
    assert select(heads, Free(gpu=1, cpu=8)) == heads[2]


def test_ties_in_order_go_by_stage_then_task() -> None:
    heads = [Head(1, "b", "x", {"gpu": 1}), Head(1, "a", "y", {"gpu": 1})]
    assert select(heads, Free(gpu=1)).stage == "a"  # type: ignore[union-attr]


def test_select_reads_real_pools_without_changing_them() -> None:
    pools = Pools({"gpu": ["0", "1"]})
    heads = [head(1, "a", gpu=2)]
    assert select(heads, pools) == heads[0]
    assert select(heads, pools) == heads[0], "select allocates nothing"
    pools.allocate(("a", "t1"), {"gpu": 1})
    assert select(heads, pools) is None
