"""The theme from the settings, and the notification when the pipeline ends (toast and terminal)."""

from __future__ import annotations

from pathlib import Path

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_tui.app import CoopyApp
from coopy_tui.settings import load_settings
from tests.helpers.tui import wait_for
from tests.helpers.tui_pipelines import write


async def test_theme_and_the_end_notification(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [tasks.matrix]
        x = [1]
        [[stages]]
        name = "work"
        command = ["true"]
        [tui]
        theme = "catppuccin-latte"
        notify = "osc9"
    """,
    )
    config = load_config(path)
    settings = load_settings(config, user=tmp_path / "nope.toml")
    eng = Engine(config)
    app = CoopyApp.__new__(CoopyApp)
    await eng.start()
    try:
        app = CoopyApp(eng, settings=settings)
        async with app.run_test(size=(120, 40)) as pilot:
            assert app.theme == "catppuccin-latte"
            await wait_for(pilot, lambda: eng.finished, what="the pipeline to finish")
            await wait_for(pilot, lambda: bool(app.terminal_notes), what="the terminal notification")
            assert app.terminal_notes == ["\x1b]9;CooPy pipeline: finished\x07"]
    finally:
        await eng.shutdown(stop_running=True)
