"""Metric columns of a stage's run table: the latest value of each metric its runs report.

Which metrics: the ones asked for (`coopy-tui --metrics loss,accuracy`, in that order; a stage shows those its
runs report), else the first MAX_AUTO names its runs report, in the order they first appeared. The set only
grows while the UI runs, so columns never jump around under the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rich.text import Text

from coopy_core.model import RunView
from coopy_core.report.results import number
from coopy_tui.widgets.run_columns import Column, Row

MAX_AUTO = 3
WIDTH = 10  # cells per metric column, the gap included
RANK = 1.5  # after elapsed and the attempt, before the last log line and the priority (run_columns.fit)


class MetricColumns:
    def __init__(self, wanted: Sequence[str] | None = None, limit: int = MAX_AUTO) -> None:
        self.wanted = tuple(wanted) if wanted else None
        self.limit = limit
        self.names: tuple[str, ...] = ()
        self._seen: list[str] = []

    def observe(self, runs: Iterable[RunView]) -> bool:
        """Note the metric names of these runs; True when the columns shown changed."""
        for run in runs:
            for name in run.metrics:
                if name not in self._seen:
                    self._seen.append(name)
        if self.wanted is not None:
            names = tuple(n for n in self.wanted if n in self._seen)
        else:
            names = tuple(self._seen[: self.limit])
        if names == self.names:
            return False
        self.names = names
        return True

    def columns(self) -> list[Column]:
        return [Column(f"metric:{n}", _label(n), WIDTH, _cell(n), right=True, rank=RANK) for n in self.names]


def _cell(name: str) -> Callable[[RunView, Row], Text]:
    def cell(run: RunView, row: Row) -> Text:
        value = run.metrics.get(name)
        return Text("" if value is None else number(value), justify="right")

    return cell


def _label(name: str) -> str:
    return name if len(name) < WIDTH else name[: WIDTH - 2] + "…"


def with_metrics(columns: Sequence[Column], metrics: MetricColumns) -> tuple[Column, ...]:
    """The table's columns with the metric columns before the one that grows (the last log line)."""
    at = next((i for i, c in enumerate(columns) if c.grow), len(columns))
    return (*columns[:at], *metrics.columns(), *columns[at:])
