"""StageQueue on its own: higher priority first, then first come; pause and worker cap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from coopy_core.engine.queues import StageQueue


def drain(q: StageQueue) -> list[str]:
    out = []
    while (task := q.pop()) is not None:
        out.append(task)
    return out


def test_priority_then_first_come() -> None:
    q = StageQueue("s", workers=1)
    for i, prio in enumerate([0, 5, 0, 5, -1]):
        q.push(f"t{i}", prio, i)
    assert q.order() == ["t1", "t3", "t0", "t2", "t4"]
    assert drain(q) == ["t1", "t3", "t0", "t2", "t4"]


def test_reprioritise_and_remove() -> None:
    q = StageQueue("s", workers=1)
    for i in range(4):
        q.push(f"t{i}", 0, i)
    q.push("t3", 2, 3)  # bump: the stale entry must not surface
    q.push("t0", -1, 0)  # lower
    assert q.remove("t1")
    assert not q.remove("t1")
    assert "t1" not in q and len(q) == 3
    assert q.order() == ["t3", "t2", "t0"]
    assert drain(q) == ["t3", "t2", "t0"]
    assert len(q) == 0


def test_pause_and_worker_cap() -> None:
    q = StageQueue("s", workers=2)
    assert q.has_free_worker()
    q.running.update({"a", "b"})
    assert not q.has_free_worker()
    q.workers = 3
    assert q.has_free_worker()
    q.paused = True
    assert not q.has_free_worker()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(-3, 3), st.booleans()),
        min_size=1,
        max_size=40,
    )
)
def test_pop_order_matches_model(ops: list[tuple[int, int, bool]]) -> None:
    """Any mix of pushes, re-prioritisations and removals pops in (-priority, arrival) order."""
    q = StageQueue("s", workers=1)
    model: dict[str, tuple[int, int]] = {}
    arrival: dict[str, int] = {}
    for n, (i, prio, remove) in enumerate(ops):
        task = f"t{i}"
        if remove:
            assert q.remove(task) == (task in model)
            model.pop(task, None)
            continue
        arrival.setdefault(task, n)
        q.push(task, prio, arrival[task])
        model[task] = (-prio, arrival[task])
    expected = sorted(model, key=lambda t: model[t])
    assert q.order() == expected
    assert drain(q) == expected
