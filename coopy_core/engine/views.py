"""What a screen may know: RunView and StageView built from the engine's records (no state of its own)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from coopy_core.engine.queues import StageQueue
from coopy_core.graph import Graph, Readiness
from coopy_core.model import COUNTED_STATES, Run, RunState, RunView, StageView

_SHOWN = tuple(s.value for s in COUNTED_STATES if s != RunState.WAITING)  # `.value` of an enum costs: once, here
_WAITING = RunState.WAITING.value
_OPEN = (RunState.WAITING, RunState.BLOCKED)


def run_view(
    run: Run, graph: Graph, readiness: Readiness, needs_total: int, metrics: Mapping[str, float] | None = None
) -> RunView:
    group = graph.is_group(run.stage)
    open_ = run.state in _OPEN
    handle = run.handle or {}
    return RunView(
        task=run.name,
        stage=run.stage,
        attempt=run.attempt,
        state=run.state,
        priority=run.priority,
        exit_code=run.exit_code,
        reason=run.reason,
        log=run.log,
        started_at=run.started_at,
        ended_at=run.ended_at,
        not_before=run.not_before,
        pid=handle.get("pid"),
        job_id=handle.get("job_id"),
        order=run.order,
        resources=dict(run.resources or {}),
        member_count=graph.member_count(run.key) if group else 0,
        waiting_on=readiness.waiting_on(run.key) if open_ else 0,
        needs_total=needs_total,
        metrics=dict(metrics) if metrics else {},
    )


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
