"""`a` in the TUI runs the selected finished run again (the engine's `rerun`, after asking), and what consumes it:
each execution appends a line to `marks`, so the lines count the runs."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_core.model import RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.confirm_screen import ConfirmScreen
from tests.helpers.tui import wait_for


def _config(root: Path) -> Path:
    path = root / "coopy.toml"
    path.write_text(
        textwrap.dedent(
            """
            [pipeline]
            poll_interval = 0.2
            [tasks.matrix]
            x = [1, 2]
            [[stages]]
            name = "first"
            workers = 2
            command = ["sh", "-c", "echo first$0 >> marks", "{x}"]
            [[stages]]
            name = "second"
            needs = ["first"]
            workers = 2
            command = ["sh", "-c", "echo second$0 >> marks", "{x}"]
            """
        )
    )
    return path


def _marks(root: Path) -> Counter[str]:
    return Counter((root / "marks").read_text().split())


async def test_a_asks_then_runs_the_selected_run_again_and_what_consumes_it(tmp_path: Path) -> None:
    engine = Engine(load_config(_config(tmp_path)))
    await engine.start()
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: engine.all_passed(), what="every run to pass")
            table = app.panel.table
            await wait_for(pilot, lambda: table.selected_task is not None, what="a run selected")
            task = table.selected_task
            assert task is not None
            x = task.split("=")[1]
            await pilot.press("a")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert _marks(tmp_path)[f"first{x}"] == 1
            await pilot.press("a", "y")
            await wait_for(pilot, lambda: _marks(tmp_path)[f"second{x}"] == 2, what="the re-run and its consumer")
            await wait_for(pilot, lambda: engine.all_passed(), what="every run to pass again")
            other = "2" if x == "1" else "1"
            assert _marks(tmp_path) == Counter(
                {f"first{x}": 2, f"second{x}": 2, f"first{other}": 1, f"second{other}": 1}
            )
            assert any(run.state == RunState.DONE for run in engine.snapshot().runs)
    finally:
        await engine.shutdown(stop_running=True)
