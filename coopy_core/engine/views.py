"""What a screen may know: RunView and StageView built from the engine's records (no state of its own)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from coopy_core.engine.queues import StageQueue
from coopy_core.graph import Graph, Readiness
from coopy_core.model import COUNTED_STATES, Run, RunState, RunView, StageView

_SHOWN = tuple(s.value for s in COUNTED_STATES if s != RunState.WAITING)  # `.value` of an enum costs: once, here
_WAITING = RunState.WAITING.value
_OPEN = (RunState.WAITING, RunState.BLOCKED)


def run_values(
    run: Run, graph: Graph, readiness: Readiness, needs_total: int, metrics: Mapping[str, float] | None = None
) -> tuple[Any, ...]:
    """A run's view as a tuple in RunView's field order: what a snapshot sends as a row, built without the
    view object (a million of them are not made to be thrown away)."""
    open_ = run.state in _OPEN
    handle = run.handle or {}
    return (
        run.name,
        run.stage,
        run.attempt,
        run.state,
        run.priority,
        run.exit_code,
        run.reason,
        run.log,
        run.started_at,
        run.ended_at,
        run.not_before,
        handle.get("pid") or None,  # 0: the spawn helper has not answered yet
        handle.get("job_id"),
        run.order,
        dict(run.resources or {}),
        graph.member_count(run.key) if graph.is_group(run.stage) else 0,
        readiness.waiting_on(run.key) if open_ else 0,
        needs_total,
        dict(metrics) if metrics else {},
    )


def run_view(
    run: Run, graph: Graph, readiness: Readiness, needs_total: int, metrics: Mapping[str, float] | None = None
) -> RunView:
    return RunView(*run_values(run, graph, readiness, needs_total, metrics))


def stage_view(
    name: str,
    index: int,
    queue: StageQueue,
    counts: Counter[str],
    durations: tuple[float, int],
    graph: Graph,
) -> StageView:
    total = graph.run_count(name)
    shown = {value: counts[value] for value in _SHOWN}
    shown[_WAITING] = max(0, total - sum(shown.values()))
    seconds, n = durations
    node = graph.nodes[name]
    return StageView(
        name=name,
        index=index,
        workers=queue.workers,
        paused=queue.paused,
        counts=shown,
        mean_duration=seconds / n if n else None,
        total=total,
        needs=node.needs,
        over=node.over,
    )
