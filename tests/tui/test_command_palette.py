"""The command palette: quit asks first, Textual's extras are gone (issue 14, defect 7)."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.quit_screen import QuitScreen
from tests.helpers.tui import wait_for
from tests.helpers.tui_pipelines import started, write


# ====================================================================== 7. the command palette
async def test_7_palette_quit_asks_and_textual_extras_are_gone(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: engine.stage_view("work").running == 1, what="a running run")
            await pilot.press("ctrl+p")
            await pilot.pause()
            titles = [c.title for c in app.get_system_commands(app.screen_stack[0])]
            assert not any(t in ("Keys", "Maximize", "Minimize") for t in titles), titles
            quits = [t for t in titles if t.startswith("Quit")]
            assert len(quits) == 1, quits
            await pilot.press(*"quit", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), what="the quit question")
            await pilot.press("escape")
            assert app.is_running
    finally:
        await engine.shutdown(stop_running=True)
