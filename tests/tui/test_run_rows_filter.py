"""A stage's rows under a filter typed letter by letter while its runs change state.

RunRows answers the filter from indexes, narrows on one more letter, and keeps the same rows when
the new word keeps the same runs; whatever path it takes, the rows must be exactly the runs a plain
check of every run keeps, in the table's order. Checked against that plain check over a seeded
random mix of keystrokes and state changes (what a user typing while a sweep runs does).
"""

from __future__ import annotations

import random
from dataclasses import replace

from coopy_core.model import RunState, RunView
from coopy_tui.listing import parse, run_matches
from coopy_tui.sorting import SORTS
from coopy_tui.widgets.run_rows import RunRows

STATES = [RunState.QUEUED, RunState.RUNNING, RunState.DONE, RunState.FAILED]
WORDS = ["seed=42", "model=cnn", "model=", "seed=1*", "cnn run", "failed", "lr=0.1 done", "xyz"]


def test_rows_are_exactly_the_matching_runs_after_every_keystroke_and_change() -> None:
    rng = random.Random(7)
    tasks = [f"model={m},seed={s},lr={lr}" for m in ("cnn", "mlp", "vit") for s in range(60) for lr in (0.1, 0.01)]
    runs = {t: RunView(t, "train", 0, rng.choice(STATES), 0, order=i) for i, t in enumerate(tasks)}
    rows, twin = RunRows(), RunRows()  # the twin is never filtered: it gives the table's order
    rows.load(runs.values())
    twin.load(runs.values())
    checked = 0
    for word in WORDS * 3:
        typed = ""
        for ch in word + "\b" * rng.randint(0, len(word)):
            typed = typed[:-1] if ch == "\b" else typed + ch
            rows.set_filter(parse(typed))
            if rng.random() < 0.5:  # runs change state between two keystrokes
                changed = [replace(runs[t], state=rng.choice(STATES)) for t in rng.sample(tasks, 25)]
                runs.update({r.task: r for r in changed})
                rows.apply(changed)
                twin.apply(changed)
            terms = parse(typed)
            want = [t for t in twin.tasks() if run_matches(terms, t, runs[t].state)]
            assert rows.tasks() == want, f"after typing {typed!r}"
            assert [rows.row_of(t) for t in want] == list(range(len(want)))
            checked += 1
    assert checked > 100


def two_runs(first: RunState, second: RunState) -> tuple[RunRows, dict[str, RunView]]:
    runs = {
        t: RunView(t, "train", 0, s, 0, order=i) for i, (t, s) in enumerate([("seed=1", first), ("seed=2", second)])
    }
    rows = RunRows()
    rows.load(runs.values())
    return rows, runs


def test_a_run_that_joins_the_filter_is_not_kept_by_a_new_filter_it_does_not_match() -> None:
    rows, runs = two_runs(RunState.FAILED, RunState.QUEUED)
    rows.set_filter(parse("failed"))
    assert rows.tasks() == ["seed=1"]
    rows.apply([replace(runs["seed=2"], state=RunState.FAILED)])
    assert sorted(rows.tasks()) == ["seed=1", "seed=2"]
    rows.set_filter(parse("failed seed=1"))
    assert rows.tasks() == ["seed=1"]


def test_a_run_that_left_the_filter_comes_back_with_a_filter_it_matches() -> None:
    rows, runs = two_runs(RunState.FAILED, RunState.FAILED)
    rows.set_filter(parse("failed"))
    rows.apply([replace(runs["seed=2"], state=RunState.QUEUED)])
    assert rows.tasks() == ["seed=1"]
    rows.set_filter(parse("seed="))
    assert sorted(rows.tasks()) == ["seed=1", "seed=2"]


def test_the_same_filter_typed_again_after_clearing_it_filters_again() -> None:
    rows, _runs = two_runs(RunState.FAILED, RunState.QUEUED)
    rows.set_filter(parse("failed"))
    rows.set_filter([])
    assert len(rows.tasks()) == 2
    rows.set_filter(parse("failed"))
    assert rows.tasks() == ["seed=1"]


def test_runs_loaded_again_under_a_filter_are_filtered_by_their_new_states() -> None:
    """A re-attach loads every run again while the filter is kept: a run that failed meanwhile is listed."""
    rows, runs = two_runs(RunState.FAILED, RunState.QUEUED)
    rows.set_filter(parse("failed"))
    rows.load([runs["seed=1"], replace(runs["seed=2"], state=RunState.FAILED)])
    assert sorted(rows.tasks()) == ["seed=1", "seed=2"]
    rows.set_filter(parse("failed seed=1"))  # keeps what the filter kept before the load: still filtered anew
    assert rows.tasks() == ["seed=1"]
    rows.set_filter(parse("failed seed=2"))
    assert rows.tasks() == ["seed=2"]


def test_a_new_sort_under_a_filter_keeps_the_filtered_runs() -> None:
    rows, runs = two_runs(RunState.FAILED, RunState.QUEUED)
    rows.set_filter(parse("seed="))
    for mode in SORTS:
        rows.set_sort(mode)
        assert sorted(rows.tasks()) == ["seed=1", "seed=2"], mode.name
        rows.set_filter(parse("failed"))
        assert rows.tasks() == ["seed=1"], mode.name
        rows.set_filter(parse("seed="))
