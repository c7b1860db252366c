"""The scripted demo engine of the TUI tests, with metrics: train runs report a loss series, done ones an
accuracy, and the `metric_series` / `results` commands answer from that (results through coopy_core.report.results,
as the real engine's do). `report()` adds a point to a running run and emits its RUN event, as the engine does
when it reads a new line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from coopy_core.engine import CommandError
from coopy_core.graph import Graph, StageNode
from coopy_core.model import EventKind, RunView
from coopy_core.report import results
from coopy_core.tasks import Task
from tests.helpers.tui import TASKS, FakeEngine, demo_engine

LOSS = {TASKS[0]: [0.9, 0.6, 0.45, 0.4, 0.38, 0.37], TASKS[1]: [0.8, 0.5, 0.31], TASKS[2]: [0.95]}
ACCURACY = {TASKS[0]: 0.71}


class MetricsEngine(FakeEngine):
    def __init__(self, base: FakeEngine) -> None:
        super().__init__(base.pipeline, [], list(base.runs.values()), base.tasks)
        self.stages = base.stages
        self.series: dict[tuple[str, str], dict[str, list[list[float]]]] = {}
        for task, losses in LOSS.items():
            self.series[(task, "train")] = {"loss": [[float(i + 1), v] for i, v in enumerate(losses)]}
        for task, acc in ACCURACY.items():
            self.series[(task, "train")]["accuracy"] = [[6.0, acc]]
        for key in self.series:
            self._refresh_view(key)

    def _refresh_view(self, key: tuple[str, str]) -> RunView:
        last = {name: points[-1][1] for name, points in self.series[key].items()}
        run = dataclasses.replace(self.runs[key], metrics=last)
        self.runs[key] = run
        return run

    def report(self, task: str, stage: str, **values: float) -> None:
        series = self.series.setdefault((task, stage), {})
        for name, value in values.items():
            points = series.setdefault(name, [])
            points.append([float(len(points) + 1), value])
        self.emit(EventKind.RUN, run=self._refresh_view((task, stage)))

    # -- the metric commands
    def metric_series(self, task: str, stage: str, name: str | None = None) -> dict[str, list[list[float]]]:
        self.calls.append(("metric_series", (task, stage, name)))
        got = self.series.get((task, stage), {})
        return {n: list(p) for n, p in got.items() if name is None or n == name}

    def results(
        self, group_by: list[str] | None = None, sort: str | None = None, stage: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("results", (group_by, sort, stage)))
        graph = Graph([StageNode(s, ()) for s in self.stages], [Task(t, _params(t)) for t in self.tasks])
        states = {(r.stage, r.task): r.state for r in self.runs.values()}
        metrics = {(s, t): {n: p[-1][1] for n, p in v.items()} for (t, s), v in self.series.items()}
        try:
            table = results.build(graph, list(self.stages), states, metrics, stage=stage)
            return results.as_json(results.arrange(table, group_by or [], sort))
        except results.ResultsError as exc:
            raise CommandError(str(exc)) from None


def _params(task: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in task.split(","):
        key, _, value = part.partition("=")
        out[key] = int(value) if value.isdigit() else value
    return out


def metrics_engine(root: Path) -> MetricsEngine:
    return MetricsEngine(demo_engine(root))
