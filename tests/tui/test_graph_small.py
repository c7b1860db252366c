"""The graph screen (`d`) at 60×20 with four stages: each stage's row stays on one line, its cells under their
headings (a wrapped row put its status under the `stage` column), and a finished stage says `done` once."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.graph_screen import GraphScreen
from tests.helpers.tui import fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import STAGES, sweep_engine


async def test_graph_rows_stay_under_their_columns_at_60x20(in_tmp: Path) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(app)(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, GraphScreen), what="the graph")
        await pilot.pause(0.2)
        lines = [line.strip("┃ ") for line in screen_text(app).splitlines()]
        at = next(i for i, line in enumerate(lines) if line.startswith("stage "))
        heading, rows = lines[at], lines[at + 1 : at + 1 + len(STAGES)]
        assert [row.split()[0] for row in rows] == list(STAGES), rows  # one line each, nothing wrapped between
        assert "esc close" in lines[at + 1 + len(STAGES)]  # the box ends right after the last stage
        runs_end = heading.index("runs") + len("runs")
        done_end = heading.index("done") + len("done")
        for row, runs, done in zip(rows, ("1", "400", "400", "8"), ("1/1", "150/400", "100/400", "0/8"), strict=True):
            assert row[:runs_end].endswith(f" {runs}") and row[:done_end].endswith(f" {done}"), (heading, row)
        assert rows[0].count("done") == 1  # prepare: `1/1  done`, not `1/1 done  done`
