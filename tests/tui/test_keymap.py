"""A keymap from [tui.keys] rebinds the keys (binding ids from the one key table)."""

from __future__ import annotations

from pathlib import Path

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_tui.app import CoopyApp
from coopy_tui.settings import load_settings
from tests.helpers.tui_pipelines import write


async def test_a_keymap_rebinds_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
        [tui.keys]
        more_workers = "w"
        toggle_pause = "P"
    """,
    )
    config = load_config(path)
    settings = load_settings(config, user=tmp_path / "nope.toml")
    eng = Engine(config)
    await eng.start()
    try:
        app = CoopyApp(eng, settings=settings)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("w")
            assert eng.stage_view("work").workers == 2
            await pilot.press("right_square_bracket")  # the old key: gone
            assert eng.stage_view("work").workers == 2
            await pilot.press("p")
            assert not eng.stage_view("work").paused
            await pilot.press("P")
            assert eng.stage_view("work").paused
            footer = app.query_one("#keys").shown()
            assert "P pause" in footer and "w[ workers" in footer.replace("[w", "w[")
    finally:
        await eng.shutdown(stop_running=True)
