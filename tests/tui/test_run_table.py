"""RunTable: a column joins a running table."""

from __future__ import annotations

from coopy_core.model import RunState, RunView
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS


async def test_a_column_joins_a_running_table(in_tmp) -> None:  # noqa: ANN001
    """What a metric column does (issue 15): one more Column in the list, before the last line."""
    from rich.text import Text

    from coopy_tui.app import CoopyApp
    from coopy_tui.widgets.run_columns import Column
    from tests.helpers.tui import FakeEngine, fixed_clock

    runs = [RunView("a", "s", 1, RunState.DONE, 0, started_at=0, ended_at=1)]
    app = CoopyApp(FakeEngine("p", [("s", 1, False, None)], runs, ["a"]), clock=fixed_clock)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.panel.table
        loss = Column("metric:loss", "loss", 8, lambda run, row: Text("0.25", justify="right"), right=True, rank=1)
        table.set_columns([*DEFAULT_COLUMNS[:-1], loss, DEFAULT_COLUMNS[-1]])
        await pilot.pause()
        assert [c.key for c in table.columns][-2:] == ["metric:loss", "last"]
        assert table.row_text("a")[-2].strip() == "0.25"
        assert "loss" in table.render_line(0).text
