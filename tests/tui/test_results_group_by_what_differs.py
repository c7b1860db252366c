"""`g` on the results screen groups by the params that differ: in a sweep where every configuration has
`dataset=cifar10-augmented-large`, the first `g` grouped by dataset, one row of all 400, before the model."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.results_screen import ResultsScreen
from tests.helpers.tui import fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import sweep_engine


async def test_g_cycles_through_the_params_that_differ(in_tmp: Path) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app)(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and bool(app.screen.rows()), what="rows")
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        seen = []
        for _ in range(4):
            await pilot.press("g")
            await wait_for(pilot, lambda: screen.group_by != (seen[-1] if seen else []), what="the next grouping")
            seen.append(list(screen.group_by))
        assert seen == [["model"], ["lr"], ["seed"], []], seen
        await pilot.press("g")
        await wait_for(pilot, lambda: "8 rows grouped by model" in screen_text(app), what="one row per model")
