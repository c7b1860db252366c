"""The graph and its readiness rule as pure logic: which runs exist, what each needs, what may start."""

from __future__ import annotations

import itertools

import pytest

from coopy_core.graph import Graph, GraphError, Progress, Readiness, StageNode, resolve_needs
from coopy_core.tasks import Task, task_name

PASSED, STOPPED, OPEN = Progress.PASSED, Progress.STOPPED, Progress.OPEN


def grid(**values: list[object]) -> list[Task]:
    keys = list(values)
    out = []
    for combo in itertools.product(*values.values()):
        params = dict(zip(keys, combo, strict=True))
        out.append(Task(task_name(params), params))  # type: ignore[arg-type]
    return out


def sklearn_graph(allow_failed: bool = False) -> Graph:
    """dataset x model x seed -> prepare (over dataset, seed) -> train -> evaluate -> summary (over all)."""
    stages = [
        StageNode("prepare", (), ("dataset", "seed")),
        StageNode("train", ("prepare",)),
        StageNode("evaluate", ("train",)),
        StageNode("summary", ("evaluate",), (), allow_failed=allow_failed),
    ]
    return Graph(stages, grid(dataset=["wine", "iris", "digits"], model=["lr", "svm", "rf"], seed=[0, 1, 2]))


# ------------------------------------------------------------------ needs
def test_needs_default_to_the_stage_before() -> None:
    assert resolve_needs(["a", "b", "c"], [None, None, None]) == [(), ("a",), ("b",)]


def test_explicit_needs_make_any_dag() -> None:
    assert resolve_needs(["p", "t", "b", "c"], [None, None, ["p"], ["t", "b"]]) == [(), ("p",), ("p",), ("t", "b")]
    assert resolve_needs(["late", "early"], [["early"], []]) == [("early",), ()]


@pytest.mark.parametrize(
    ("needs", "stage", "words"),
    [
        ([None, ["nope"]], 1, "no stage named 'nope'"),
        ([None, ["b"]], 1, "cannot need itself"),
        ([None, ["a", "a"]], 1, "listed twice"),
        ([["b"], ["a"]], 0, "cycle: a -> b -> a"),
    ],
)
def test_bad_needs_name_the_stage(needs: list[list[str] | None], stage: int, words: str) -> None:
    with pytest.raises(GraphError) as info:
        resolve_needs(["a", "b"], needs)
    assert info.value.stage == stage
    assert words in str(info.value)


def test_a_longer_cycle_is_named_whole() -> None:
    with pytest.raises(GraphError, match="needs form a cycle: a -> c -> b -> a"):
        resolve_needs(["a", "b", "c"], [["c"], ["a"], ["b"]])


# ------------------------------------------------------------------ groups
def test_runs_per_stage_follow_over() -> None:
    g = sklearn_graph()
    assert g.run_count("prepare") == 9
    assert g.run_count("train") == 27
    assert g.runs("summary") == ["all"]
    assert g.runs("prepare")[:2] == ["dataset=wine,seed=0", "dataset=wine,seed=1"]
    assert g.members(("prepare", "dataset=iris,seed=2")) == [
        "dataset=iris,model=lr,seed=2",
        "dataset=iris,model=svm,seed=2",
        "dataset=iris,model=rf,seed=2",
    ]
    assert g.params(("prepare", "dataset=iris,seed=2")) == {"dataset": "iris", "seed": 2}
    assert g.params(("summary", "all")) == {}


def test_fan_out_and_fan_in() -> None:
    g = sklearn_graph()
    train = ("train", "dataset=wine,model=svm,seed=1")
    assert g.needed(train) == [("prepare", "dataset=wine,seed=1")]
    assert g.consumers(("prepare", "dataset=wine,seed=1")) == [
        ("train", "dataset=wine,model=lr,seed=1"),
        ("train", "dataset=wine,model=svm,seed=1"),
        ("train", "dataset=wine,model=rf,seed=1"),
    ]
    assert len(g.needed(("summary", "all"))) == 27
    assert g.consumers(("evaluate", "dataset=wine,model=svm,seed=1")) == [("summary", "all")]


def test_incomparable_groups() -> None:
    """per-model aggregate needing a per-seed stage: every seed-run covering one of its members."""
    g = Graph(
        [StageNode("seedprep", (), ("seed",)), StageNode("bymodel", ("seedprep",), ("model",))],
        grid(model=["a", "b"], seed=[1, 2, 3]),
    )
    assert g.needed(("bymodel", "model=a")) == [("seedprep", "seed=1"), ("seedprep", "seed=2"), ("seedprep", "seed=3")]
    assert g.consumers(("seedprep", "seed=2")) == [("bymodel", "model=a"), ("bymodel", "model=b")]


def test_a_param_missing_from_a_configuration_is_refused() -> None:
    g = Graph([StageNode("a", (), ("model",))], grid(model=["x"]))
    with pytest.raises(ValueError, match="has no 'model'"):
        g.add_task(Task("other", {"seed": 1}))


def test_two_groups_with_one_name_are_refused() -> None:
    g = Graph([StageNode("a", (), ("v",))], [Task("t1", {"v": "a b"})])
    with pytest.raises(ValueError, match="two groups would be named 'v=a-b'"):
        g.add_task(Task("t2", {"v": "a-b"}))


# ------------------------------------------------------------------ readiness
def test_first_ready_runs_are_those_that_need_nothing() -> None:
    r = Readiness(sklearn_graph())
    changes = r.load({})
    assert sorted(changes.ready) == sorted(("prepare", g) for g in r.graph.runs("prepare"))
    assert not changes.blocked


def test_fan_out_then_fan_in() -> None:
    g = sklearn_graph()
    r = Readiness(g)
    r.load({})
    ready = r.set(("prepare", "dataset=wine,seed=0"), PASSED).ready
    assert ready == [("train", f"dataset=wine,model={m},seed=0") for m in ("lr", "svm", "rf")]
    for stage in ("prepare", "train"):
        for run in g.runs(stage):
            r.set((stage, run), PASSED)
    evaluations = g.runs("evaluate")
    for run in evaluations[:-1]:
        assert r.set(("evaluate", run), PASSED).ready == []
    assert r.waiting_on(("summary", "all")) == 1
    assert r.set(("evaluate", evaluations[-1]), PASSED).ready == [("summary", "all")]


def test_a_failure_blocks_everything_downstream_and_a_retry_unblocks_it() -> None:
    g = sklearn_graph()
    r = Readiness(g)
    r.load({})
    for run in g.runs("prepare"):
        r.set(("prepare", run), PASSED)
    bad = ("train", "dataset=iris,model=rf,seed=1")
    changes = r.set(bad, STOPPED)
    assert changes.blocked == [("evaluate", "dataset=iris,model=rf,seed=1"), ("summary", "all")]
    assert r.blocker(("summary", "all")) == bad  # followed down to the run that failed
    assert r.get(("summary", "all")) is STOPPED
    changes = r.set(bad, OPEN)  # retried
    assert changes.unblocked == [("evaluate", "dataset=iris,model=rf,seed=1"), ("summary", "all")]
    assert changes.ready == [bad]  # the retried run may start; nothing after it until it passes
    assert r.set(bad, PASSED).ready == [("evaluate", "dataset=iris,model=rf,seed=1")]


def test_two_failures_need_two_retries() -> None:
    g = Graph([StageNode("a"), StageNode("sum", ("a",), ())], grid(x=[1, 2]))
    r = Readiness(g)
    r.load({})
    r.set(("a", "x=1"), STOPPED)
    r.set(("a", "x=2"), STOPPED)
    assert r.set(("a", "x=1"), OPEN).unblocked == []
    assert r.get(("sum", "all")) is STOPPED
    assert r.set(("a", "x=2"), OPEN).unblocked == [("sum", "all")]


def test_allow_failed_runs_on_the_members_that_passed() -> None:
    g = sklearn_graph(allow_failed=True)
    r = Readiness(g)
    r.load({})
    for stage in ("prepare", "train"):
        for run in g.runs(stage):
            r.set((stage, run), PASSED)
    evaluations = g.runs("evaluate")
    assert r.set(("evaluate", evaluations[0]), STOPPED).blocked == []  # not blocked: it may run without it
    for run in evaluations[1:-1]:
        r.set(("evaluate", run), PASSED)
    assert r.set(("evaluate", evaluations[-1]), PASSED).ready == [("summary", "all")]
    assert r.usable_members(("summary", "all")) == evaluations[1:]


def test_allow_failed_with_nothing_passed_is_blocked() -> None:
    g = Graph([StageNode("a"), StageNode("sum", ("a",), (), allow_failed=True)], grid(x=[1, 2]))
    r = Readiness(g)
    r.load({})
    r.set(("a", "x=1"), STOPPED)
    assert r.set(("a", "x=2"), STOPPED).blocked == [("sum", "all")]


def test_diamond() -> None:
    g = Graph(
        [
            StageNode("prepare"),
            StageNode("train", ("prepare",)),
            StageNode("baseline", ("prepare",)),
            StageNode("compare", ("train", "baseline")),
        ],
        grid(x=[1]),
    )
    r = Readiness(g)
    r.load({})
    assert r.set(("prepare", "x=1"), PASSED).ready == [("train", "x=1"), ("baseline", "x=1")]
    assert r.set(("train", "x=1"), PASSED).ready == []
    assert r.set(("baseline", "x=1"), PASSED).ready == [("compare", "x=1")]


def test_load_derives_blocked_and_ready_from_stored_outcomes() -> None:
    g = Graph([StageNode("a"), StageNode("b", ("a",)), StageNode("c", ("b",))], grid(x=[1, 2, 3]))
    r = Readiness(g)
    changes = r.load({("a", "x=1"): PASSED, ("a", "x=2"): STOPPED, ("a", "x=3"): PASSED, ("b", "x=3"): PASSED})
    assert changes.blocked == [("b", "x=2"), ("c", "x=2")]
    assert sorted(changes.ready) == [("b", "x=1"), ("c", "x=3")]


def test_a_passed_run_opened_again_resets_what_consumed_it() -> None:
    g = Graph([StageNode("a"), StageNode("b", ("a",)), StageNode("c", ("b",), ())], grid(x=[1, 2]))
    r = Readiness(g)
    r.load({key: PASSED for key in g.all_runs()})
    changes = r.set(("a", "x=1"), OPEN)
    assert changes.reset == [("b", "x=1"), ("c", "all")]
    assert r.get(("b", "x=2")) is PASSED  # not made from a/x=1: left alone


def test_a_new_member_reruns_the_groups_that_consume_members_only() -> None:
    stages = [
        StageNode("setup", (), ("dataset",)),  # needs nothing: a new model does not change it
        StageNode("train", ("setup",)),
        StageNode("bymodel", ("train",), ("model",)),
        StageNode("report", ("bymodel",), ()),
        StageNode("listing", (), (), per_member=True),  # reads each member's inputs
    ]
    g = Graph(stages, grid(dataset=["d"], model=["a", "b"]))
    r = Readiness(g)
    r.load({key: PASSED for key in g.all_runs()})
    joined, changes = r.add_task(Task("dataset=d,model=a,x=2", {"dataset": "d", "model": "a"}))
    assert joined == [
        ("setup", "dataset=d"),
        ("train", "dataset=d,model=a,x=2"),
        ("bymodel", "model=a"),
        ("report", "all"),
        ("listing", "all"),
    ]
    assert sorted(changes.reset) == [("bymodel", "model=a"), ("listing", "all"), ("report", "all")]
    assert changes.ready == [("train", "dataset=d,model=a,x=2"), ("listing", "all")]
    assert r.get(("setup", "dataset=d")) is PASSED
    assert r.get(("bymodel", "model=b")) is PASSED


def test_a_new_member_makes_a_ready_run_wait_again() -> None:
    g = Graph([StageNode("a"), StageNode("sum", ("a",), ())], grid(x=[1]))
    r = Readiness(g)
    r.load({})
    assert r.set(("a", "x=1"), PASSED).ready == [("sum", "all")]
    _joined, changes = r.add_task(Task("x=2", {"x": 2}))
    assert changes.unready == [("sum", "all")]
    assert changes.joined == [("sum", "all")]
    assert changes.ready == [("a", "x=2")]
    assert r.set(("a", "x=2"), PASSED).ready == [("sum", "all")]


def test_an_allow_failed_aggregate_that_started_early_waits_again_when_a_failure_is_retried() -> None:
    g = Graph(
        [
            StageNode("s0"),
            StageNode("s1", ("s0",), (), allow_failed=True),
            StageNode("s2", ("s0", "s1"), (), allow_failed=True),
        ],
        grid(x=[1, 2]),
    )
    r = Readiness(g)
    r.load({})
    r.set(("s0", "x=1"), PASSED)
    assert r.set(("s0", "x=2"), STOPPED).ready == [("s1", "all")]  # over the member that passed
    assert r.set(("s1", "all"), PASSED).ready == [("s2", "all")]
    changes = r.set(("s0", "x=2"), OPEN)  # retried while s2 runs
    assert changes.reset == [("s1", "all")]
    assert ("s2", "all") in changes.unready and ("s2", "all") not in changes.unblocked
    assert not r.is_ready(("s2", "all"))


def test_a_retried_run_whose_need_failed_meanwhile_is_blocked() -> None:
    g = Graph([StageNode("a"), StageNode("b", ("a",))], grid(x=[1]))
    r = Readiness(g)
    r.load({})
    r.set(("b", "x=1"), STOPPED)  # cancelled while it waited
    r.set(("a", "x=1"), STOPPED)  # then what it needs failed
    assert r.set(("b", "x=1"), OPEN).blocked == [("b", "x=1")]  # retried: blocked, not waiting
    assert r.blocker(("b", "x=1")) == ("a", "x=1")


def test_an_allow_failed_group_blocked_for_want_of_members_starts_when_a_good_one_joins() -> None:
    g = Graph([StageNode("a"), StageNode("sum", ("a",), (), allow_failed=True)], grid(x=[1]))
    r = Readiness(g)
    r.load({})
    assert r.set(("a", "x=1"), STOPPED).blocked == [("sum", "all")]
    _joined, changes = r.add_task(Task("x=2", {"x": 2}))
    assert changes.unblocked == [("sum", "all")]  # no longer blocked: it waits for a/x=2
    assert r.set(("a", "x=2"), PASSED).ready == [("sum", "all")]
    assert r.usable_members(("sum", "all")) == ["x=2"]
