"""MetricSpark: one line above the log pane, the selected run's chosen metric as a sparkline while it trains.

`loss 0.2541 ▇▆▅▄▃▃▂▂▁▁` — the series comes from the engine's `metric_series` command, asked again only when
the run's latest values changed (its RUN event brought them) and at most twice a second; hidden while the
selected run has reported nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline

from coopy_core.errors import CoopyError
from coopy_core.model import RunView
from coopy_core.report.results import number

MIN_INTERVAL = 0.5  # seconds between two asks for the same run's series
Fetch = Callable[[str, str, str | None], dict[str, list[list[float]]]]  # Commands.metric_series


class MetricSpark(Horizontal):
    DEFAULT_CSS = """
    MetricSpark {
        height: 1;
        display: none;
        padding: 0 1;
    }
    MetricSpark.-shown {
        display: block;
    }
    MetricSpark > Label {
        width: auto;
        padding: 0 1 0 0;
    }
    MetricSpark > Sparkline {
        width: 48;
        max-width: 1fr;
    }
    """

    def __init__(self, fetch: Fetch, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fetch = fetch
        self.label = Label("", id="metric-spark-label")
        self.spark = Sparkline([], summary_function=lambda values: values[-1], id="metric-spark-line")
        self.key: tuple[str, str, int, str] | None = None  # (stage, task, attempt, metric) shown
        self.points: list[float] = []
        self.fetches = 0  # for tests: how often the engine was asked
        self._stamp: tuple[tuple[str, float], ...] = ()
        self._asked = 0.0

    def compose(self) -> ComposeResult:
        yield self.label
        yield self.spark

    def follow(self, run: RunView | None, metrics: Sequence[str]) -> None:
        """Show `run`'s first metric of `metrics` it reports (called on every repaint; cheap when nothing changed)."""
        metric = next((m for m in metrics if run is not None and m in run.metrics), None)
        if run is None or metric is None:
            self.key = None
            self.set_class(False, "-shown")
            return
        key = (run.stage, run.task, run.attempt, metric)
        stamp = tuple(sorted(run.metrics.items()))
        if key == self.key and stamp == self._stamp:
            return
        now = time.monotonic()
        if key == self.key and now - self._asked < MIN_INTERVAL:
            return  # asked again on a later repaint: the stamp still differs then
        self._asked = now
        self._stamp = stamp
        self.key = key
        self.fetches += 1
        try:
            series = self.fetch(run.task, run.stage, metric).get(metric) or []
        except CoopyError:
            series = []
        self.points = [float(p[1]) for p in series] or [run.metrics[metric]]
        self.spark.data = self.points
        where = f" step {number(series[-1][0])}" if series else ""
        self.label.update(f"{metric} {number(run.metrics[metric])}{where}")
        self.set_class(True, "-shown")
