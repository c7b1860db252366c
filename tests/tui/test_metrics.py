"""Metrics in the TUI: the run table's metric columns (latest values, which ones configurable), the sparkline of
the selected run's metric as it trains, and the results screen (`m`: grouped, sorted by keys); Pilot and
snapshots over the scripted demo engine with metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.results_screen import ResultsScreen
from tests.helpers.metrics_tui import MetricsEngine, metrics_engine
from tests.helpers.tui import TASKS, fixed_clock, settle, wait_for


@pytest.fixture
def engine(in_tmp: Path) -> MetricsEngine:
    return metrics_engine(in_tmp)


def make_app(engine: MetricsEngine, **kw: Any) -> CoopyApp:
    return CoopyApp(engine, clock=fixed_clock, **kw)


def header(app: CoopyApp, stage: int) -> list[str]:
    table = app.panels[stage].table
    return [column.label for column in table.columns]


def metric_labels(app: CoopyApp, stage: int) -> list[str]:
    return [c.label for c in app.panels[stage].table.columns if c.key.startswith("metric:")]


def cell(app: CoopyApp, stage: int, task: str, label: str) -> str:
    return app.panels[stage].table.row_text(task)[header(app, stage).index(label)]


async def test_metric_columns_show_the_latest_values_live(engine: MetricsEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(330, 40)) as pilot:
        await settle(app)(pilot)
        assert metric_labels(app, 1) == ["loss", "accuracy"]
        assert header(app, 1)[-1] == " last line" and header(app, 1)[:2] == ["task", "state"]
        assert metric_labels(app, 0) == []  # prepare reports none
        assert [cell(app, 1, TASKS[0], m) for m in ("loss", "accuracy")] == ["0.37", "0.71"]
        assert [cell(app, 1, TASKS[1], m) for m in ("loss", "accuracy")] == ["0.31", ""]
        engine.report(TASKS[1], "train", loss=0.2468)  # the engine read a new line
        await wait_for(pilot, lambda: cell(app, 1, TASKS[1], "loss") == "0.2468", what="the new loss")


async def test_which_metrics_are_shown_is_configurable(engine: MetricsEngine) -> None:
    app = make_app(engine, metrics=["accuracy", "f1"])
    async with app.run_test(size=(330, 40)) as pilot:
        await settle(app)(pilot)
        assert metric_labels(app, 1) == ["accuracy"]  # f1: no run reports it (yet)
        engine.report(TASKS[1], "train", f1=0.5)
        await wait_for(pilot, lambda: metric_labels(app, 1) == ["accuracy", "f1"], what="the f1 column")


async def test_sparkline_follows_the_selected_runs_metric(engine: MetricsEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(330, 40)) as pilot:
        await pilot.press("tab")
        await wait_for(pilot, lambda: app.panel.table.select_task(TASKS[1]), what="the running row")
        await settle(app)(pilot)
        spark = app._spark
        await wait_for(pilot, lambda: spark.points == [0.8, 0.5, 0.31], what="the series")
        assert spark.has_class("-shown")
        assert str(spark.label.render()).startswith("loss 0.31 step 3")
        asked = spark.fetches
        for _ in range(5):
            app.repaint()
        assert spark.fetches == asked  # nothing new: the engine is not asked again
        engine.report(TASKS[1], "train", loss=0.2)
        await wait_for(pilot, lambda: spark.points == [0.8, 0.5, 0.31, 0.2], what="the new point")
        await wait_for(pilot, lambda: app.panel.table.select_task(TASKS[3]), what="a run with no metrics")
        await wait_for(pilot, lambda: not spark.has_class("-shown"), what="the sparkline hidden")


async def test_results_screen_groups_and_sorts_by_keys(engine: MetricsEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(330, 40)) as pilot:
        await settle(app)(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen), what="the results screen")
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        rows = screen.rows()
        assert [f"model={r[0]},seed={r[1]}" for r in rows] == TASKS  # the params, then the metrics, then states
        assert rows[0][2:4] == ["0.37", "0.71"] and rows[1][2:4] == ["0.31", ""]
        await pilot.press("g")  # group by model
        await wait_for(pilot, lambda: len(screen.rows()) == 3, what="one row per model")
        assert screen.group_by == ["model"]
        assert str(screen.query_one("#results-caption").render()).startswith("3 rows grouped by model")
        mlp = screen.rows()[0]
        assert mlp[:2] == ["mlp", "2"] and mlp[2] == "0.34 ± 0.042"
        assert mlp[3] == "0.71 (n=1)"  # one of its two runs reported it
        await pilot.press("o")  # sort by the first metric, loss
        await wait_for(pilot, lambda: screen.sort == "loss", what="sorted by loss")
        assert [r[0] for r in screen.rows()] == ["mlp", "cnn", "resnet"]  # resnet has no loss: last
        assert screen.rows()[1][2] == "0.95 (n=1)"
        await pilot.press("O")
        await wait_for(pilot, lambda: screen.sort == "-loss", what="reversed")
        assert [r[0] for r in screen.rows()] == ["cnn", "mlp", "resnet"]
        assert ("results", (["model"], "-loss", None)) in engine.calls  # asked of the engine, as a command
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ResultsScreen), what="closed")


class TestSnapshots:
    def test_metric_columns_and_sparkline(self, engine: MetricsEngine, snap_compare: Any) -> None:
        app = make_app(engine)

        async def run_before(pilot: Any) -> None:
            await pilot.press("tab")
            await wait_for(pilot, lambda: app.panel.table.select_task(TASKS[1]), what="the running row")
            await settle(app)(pilot)
            await wait_for(pilot, lambda: app._spark.points == [0.8, 0.5, 0.31], what="the series")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(140, 40), run_before=run_before)

    def test_results_screen_grouped(self, engine: MetricsEngine, snap_compare: Any) -> None:
        app = make_app(engine)

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen), what="the results screen")
            await pilot.press("g", "o")
            await wait_for(pilot, lambda: app.screen.sort == "loss", what="sorted")  # type: ignore[attr-defined]
            await pilot.pause()

        assert snap_compare(app, terminal_size=(120, 30), run_before=run_before)
