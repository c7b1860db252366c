"""The report's timeline: a bar per attempt on its stage's worker lanes, or, past MAX_BARS attempts (a sweep of
a million), how many attempts of each stage ran at each moment: a picture of that many bars is neither
readable nor cheap to write (9,000 bars took matplotlib 17 s and made a file of 20 MB)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from coopy_core.config import Config
from coopy_core.graph import Graph
from coopy_core.model import Run
from coopy_core.report.text import NO_CHARTS, duration, short_label

MAX_BARS = 5000  # attempts drawn one by one; above, the stages' running counts over time
MAX_LANES = 64  # per stage: a stage with workers = 1000 does not get 1000 empty lanes

Span = tuple[str, str, int, float, float, str, str]  # stage, run, attempt, start, end, state, reason


@dataclass(frozen=True, slots=True)
class Attempt:
    task: str
    stage: str
    attempt: int
    state: str
    exit_code: int | None
    reason: str
    started_at: float
    ended_at: float
    log: str


def spans(attempts: Sequence[Attempt], running: Iterable[Run], now: float) -> tuple[list[Span], float]:
    """Every ended attempt and every running one, and the wall time from the first start to the last end."""
    out: list[Span] = [(a.stage, a.task, a.attempt, a.started_at, a.ended_at, a.state, a.reason) for a in attempts]
    for run in running:
        if run.started_at is not None:
            out.append((run.stage, run.name, run.attempt, run.started_at, now, "running", "running"))
    if not out:
        return out, 0.0
    return out, max(s[4] for s in out) - min(s[3] for s in out)


def bars(config: Config, graph: Graph, varying: Sequence[str], spans: list[Span]) -> tuple[list[Any], dict[str, int]]:
    """Timeline bars, each on the first free worker lane of its stage."""
    from coopy_core.report.charts import Bar

    t0 = min(s[3] for s in spans)
    out: list[Any] = []
    lanes: dict[str, int] = {}
    for stage in config.stage_names:
        mine = sorted((s for s in spans if s[0] == stage), key=lambda s: (s[3], s[4]))
        free_at: list[float] = []
        for name, task, attempt, start, end, state, reason in mine:
            lane = next((i for i, t in enumerate(free_at) if t <= start + 1e-6), None)
            if lane is None:
                lane = len(free_at)
                free_at.append(end)
            else:
                free_at[lane] = end
            took = duration(end - start)
            title = f"{name}/{task} · attempt {attempt} · {state} · {took}" + (f"\n{reason}" if reason else "")
            label = short_label(graph.params((name, task)), varying, task) if graph.exists((name, task)) else task
            out.append(Bar(f"attempt:{name}/{task}/{attempt}", name, lane, start - t0, end - t0, state, title, label))
        cap = config.stage(stage).workers
        lanes[stage] = max(len(free_at), min(cap, MAX_LANES), 1)
    return out, lanes


def section(config: Config, graph: Graph, varying: Sequence[str], charts: Any, spans: list[Span], span: float) -> str:
    if not spans:
        intro, body = "", '<p class="note">No attempt has started yet.</p>'
    elif len(spans) > MAX_BARS:
        intro = (
            f"<p>{len(spans):,} attempts, too many to draw one by one (a bar each up to {MAX_BARS:,}): how many "
            "attempts of each stage were running at each moment, beside its worker cap. Below the cap a worker "
            "had nothing to do.</p>"
        )
        chart = None if charts is None else charts.running_chart(spans, _caps(config))
        body = NO_CHARTS if chart is None else f'<div class="scroll">{chart}</div>'
    else:
        intro = (
            "<p>One lane per worker slot of each stage; a bar per attempt, coloured by how it ended (hover for "
            "details). White space in a lane is a worker with nothing to do.</p>"
        )
        if charts is None:
            body = NO_CHARTS
        else:
            drawn, lanes = bars(config, graph, varying, spans)
            body = f'<div class="scroll">{charts.timeline_chart(drawn, lanes, span)}</div>'
    return f'<section id="timeline"><h2>Timeline</h2>{intro}{body}</section>'


def _caps(config: Config) -> dict[str, int]:
    return {s.name: s.workers for s in config.stages}
