"""The results screen (`m`) of a 400-configuration sweep: at 120 columns the metrics are in view (the params that
differ first, no name column repeating them, the shared one said once); `o` keeps the sorted column in view,
also at 80 columns where the last metric starts off screen; `j` / `k` move the cursor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import DataTable

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.results_screen import ResultsScreen
from tests.helpers.tui import fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import DATASET, sweep_engine

METRICS = ["loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"]


async def open_results(app: CoopyApp, pilot: object) -> ResultsScreen:
    await settle(app)(pilot)
    await pilot.press("m")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and bool(app.screen.rows()), what="rows")
    screen = app.screen
    assert isinstance(screen, ResultsScreen)
    return screen


def header(app: CoopyApp) -> str:
    """The table's header line as drawn (the one naming the seed column; "" when none does)."""
    return next((line for line in screen_text(app).splitlines() if " seed " in line), "")


async def test_metrics_in_view_at_120_columns(in_tmp: Path) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_results(app, pilot)
        await pilot.pause(0.2)
        text = screen_text(app)
        top = header(app).strip("┃ ").split()
        assert top[:3] == ["model", "lr", "seed"] and top[3:8] == METRICS, top
        assert "model=" not in text and text.count(DATASET) == 1  # no name column; the shared param said once
        assert f"same in every row: dataset={DATASET}" in text


async def test_sorting_keeps_the_sorted_column_in_view_and_jk_move(in_tmp: Path) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(app, pilot)
        assert "epoch_seconds" not in header(app)  # off screen to start with
        for metric in METRICS:
            await pilot.press("o")
            await wait_for(pilot, lambda m=metric: f"{m} ▲" in header(app), what=f"{metric} ▲ in view")  # type: ignore[misc]
        grid = screen.query_one(DataTable)
        await pilot.press("j", "j", "j", "k")
        await wait_for(pilot, lambda: grid.cursor_row == 2, what="the cursor on the third row")


async def test_a_refresh_leaves_the_view_where_it_was(in_tmp: Path) -> None:
    """Scrolled right to the sorted column and down to row 20, the view stays there when the results change (the
    screen asks again every 2 s) and when they do not: no jump back to the top left."""
    engine = sweep_engine(in_tmp)
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(app, pilot)
        for metric in METRICS:
            await pilot.press("o")
            await wait_for(pilot, lambda m=metric: f"{m} ▲" in header(app), what=f"{metric} ▲ in view")  # type: ignore[misc]
        await pilot.press(*["j"] * 20, *["k"] * 5)
        grid = screen.query_one(DataTable)
        await wait_for(pilot, lambda: grid.cursor_row == 15 and grid.scroll_y > 0, what="row 15, scrolled down")
        view = (grid.scroll_x, grid.scroll_y, grid.cursor_row)
        assert view[0] > 0
        asked: list[object] = []
        fetch = screen.fetch
        screen.fetch = lambda **kw: asked.append(kw) or fetch(**kw)

        key = next(k for k, r in engine.runs.items() if r.stage == "train" and r.metrics)
        engine.runs[key] = dataclasses.replace(engine.runs[key], metrics={**engine.runs[key].metrics, "loss": 9.875})
        await wait_for(pilot, lambda: any("9.875" in row for row in screen.rows()), what="the new loss in the table")
        await wait_for(pilot, lambda: (grid.scroll_x, grid.scroll_y, grid.cursor_row) == view, what="the same view")
        seen = len(asked)
        await wait_for(pilot, lambda: len(asked) >= seen + 2, what="two refreshes with the same results")
        assert (grid.scroll_x, grid.scroll_y, grid.cursor_row) == view
        assert "epoch_seconds ▲" in header(app)
