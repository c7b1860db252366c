"""The TUI shows the runs of a configuration removed from the config as `removed` (README: Config drift is never
silent), from the engine it is attached to while that engine runs."""

from __future__ import annotations

from pathlib import Path

from coopy_core import Engine, RunState, load_config
from coopy_tui.app import CoopyApp
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config
from tests.helpers.tui import screen_text, wait_for

# x=3 (added later) holds until the file `go` exists, so the engine is still running while the screen is read.
BODY = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
x = [1, 2]
[[stages]]
name = "a"
workers = 2
command = ["sh", "-c", "while [ $0 = 3 ] && [ ! -e go ]; do sleep 0.05; done", "{x}"]
"""


async def test_a_removed_configuration_is_a_removed_row_while_the_engine_runs(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BODY)
    first = coopy("run", str(cfg), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    cfg.write_text(cfg.read_text().replace("x = [1, 2]", "x = [1, 3]"))
    engine = Engine(load_config(cfg))
    await engine.start()
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 30)) as pilot:
            table = app.panel.table
            await wait_for(
                pilot,
                lambda: "x=3" in table.rows.runs and table.rows.runs["x=3"].state == RunState.RUNNING,
                timeout=30,
                what="x=3 running",
            )
            assert not engine.finished
            assert "x=2" in table.rows.runs, f"the removed configuration has no row:\n{screen_text(app)}"
            assert table.rows.runs["x=2"].state == RunState.REMOVED
            assert "removed" in table.row_text("x=2"), table.row_text("x=2")
            (tmp_path / "go").touch()
            await wait_for(pilot, lambda: engine.finished, timeout=30, what="the pipeline to finish")
    finally:
        (tmp_path / "go").touch()
        await engine.shutdown(stop_running=True)
