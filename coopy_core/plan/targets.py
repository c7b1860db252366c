"""What a run is over, which outputs it declares, and how far stored runs got: pure functions that the engine
and `coopy plan` share, so a plan is judged over exactly what the engine would run."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from coopy_core.config import Config
from coopy_core.graph import Graph, Progress, Readiness, RunKey
from coopy_core.model import Run, RunState
from coopy_core.plan.judge import input_paths, outputs_are_own
from coopy_core.scripter import Scripter
from coopy_core.tasks import Task, common_params


def progress_of(runs: Iterable[Run]) -> dict[RunKey, Progress]:
    """What Readiness needs to know of stored runs: which passed and which stopped for good."""
    progress: dict[RunKey, Progress] = {}
    for run in runs:
        if run.state.passed:
            progress[run.key] = Progress.PASSED
        elif run.state in (RunState.FAILED, RunState.CANCELLED):
            progress[run.key] = Progress.STOPPED
    return progress


def left_in_place(runs: Iterable[Run]) -> list[Run]:
    """Runs stored waiting, queued or blocked after an attempt (none of them running): a place in the schedule
    the engine was at when it stopped, not a result. Those whose last attempt passed are judged by their
    recipe like any passed run (`Store.passed_last` says which)."""
    places = (RunState.WAITING, RunState.QUEUED, RunState.BLOCKED)
    return [r for r in runs if r.state in places and r.attempt > 0 and r.recipe]


def usable_members(graph: Graph, readiness: Readiness, key: RunKey, allow_failed: bool) -> list[str]:
    """A group run's members it runs over: all of them, or with `allow_failed` those whose needs passed."""
    return readiness.usable_members(key) if allow_failed else graph.members(key)


def target(graph: Graph, readiness: Readiness, key: RunKey, allow_failed: bool) -> Task:
    """What a run is over: its configuration, or its group with the members it runs over."""
    if not graph.is_group(key[0]):
        return graph.tasks[key[1]]
    members = usable_members(graph, readiness, key, allow_failed)
    return Task(key[1], graph.params(key), tuple(graph.tasks[m] for m in members))  # type: ignore[arg-type]


def outputs_of(graph: Graph, scripters: Mapping[str, Scripter], runs: Mapping[RunKey, Run], key: RunKey) -> list[Path]:
    """A run's declared outputs (`done_when`), rendered with its own params and current attempt (a group's
    without its member list: outputs name the group, and a fan-in of a million members stays cheap)."""
    run = runs.get(key)
    attempt = max(run.attempt if run else 1, 1)
    group = graph.is_group(key[0])
    task = Task(key[1], graph.params(key)) if group else graph.tasks[key[1]]  # type: ignore[arg-type]
    return scripters[key[0]].outputs(task, attempt)


def made_from(
    config: Config, graph: Graph, scripter: Scripter, task: Task, key: RunKey, outputs: Callable[[RunKey], list[Path]]
) -> list[Path]:
    """The files a run's outputs are made from: its declared inputs and what the runs it needs made."""
    paths = input_paths(config, scripter, task)
    for need in graph.needed(key):
        paths.extend(outputs(need))
    return paths


def own_outputs(config: Config, graph: Graph) -> dict[str, bool]:
    """Per stage: each run's outputs are its own (not a file several runs declare)."""
    common = common_params(list(graph.tasks.values()))
    return {
        s.name: graph.run_count(s.name) <= 1 or outputs_are_own(s, s.over if s.over is not None else common)
        for s in config.stages
    }
