"""The layout at every terminal size: every key reachable, the top bar's words kept, whole states, the log pane
grows; a light theme shows the inactive borders (issue 14, defects 6 and 9).
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.color import Color

from coopy_tui.app import CoopyApp
from coopy_tui.keys import KEYS
from coopy_tui.widgets.help_screen import HelpScreen, help_table
from tests.helpers.tui import FakeEngine, demo_engine, fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import started, write

# ====================================================================== 2. fast ] / [ presses are lost


def contrast(app: CoopyApp, widget: object) -> float:
    """How far a widget's border colour is from what is behind it (0: invisible, 1: black on white)."""
    _base, background = widget.background_colors  # type: ignore[attr-defined]
    border = widget.styles.border_top[1]  # type: ignore[attr-defined]
    shown = background + border  # a translucent border is blended over what is behind it
    return abs(shown.brightness - background.brightness)


# ====================================================================== 6. narrow and wide screens
async def test_6_at_80x24_every_key_is_reachable(in_tmp: Path) -> None:
    app = CoopyApp(demo_engine(in_tmp, failed=True), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        footer = "\n".join(screen_text(app).splitlines()[-2:])
        for hint in ("s summary", "⇥⇤ stage", "^p palette", "⏎ log", "! news", "fF failed", "? keys"):
            assert hint in footer, (hint, footer)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=200, file=io.StringIO(), record=True)
        console.print(help_table(app.settings.keymap))
        listed = console.export_text()
        for key in KEYS:
            assert key.help in listed, key.action


async def test_6_at_60x20_the_top_bar_keeps_failed_and_eta(in_tmp: Path) -> None:
    app = CoopyApp(demo_engine(in_tmp, failed=True), clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(app)(pilot)
        top = screen_text(app).splitlines()[0]
        assert "✗1" in top.replace(" ", "") and "ETA" in top, top


async def test_6_at_120x40_side_panels_show_whole_states(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        model = ["resnet50-wide", "vit-base-patch16"]
        seed = [1, 2]
        [[stages]]
        name = "prepare"
        command = ["sleep", "600"]
        workers = 2
        needs = []
        [[stages]]
        name = "train"
        command = ["sleep", "600"]
        workers = 2
        needs = []
        [[stages]]
        name = "evaluate"
        command = ["sleep", "600"]
        workers = 2
        needs = []
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot,
                lambda: all(engine.stage_view(s).running == 2 for s in ("prepare", "train", "evaluate")),
                what="two runs in every stage",
            )
            await settle(app)(pilot)
            assert app.query_one("#body").has_class("-columns")
            for panel in app.panels:
                rows = [panel.table.render_line(y).text for y in range(1, 3)]
                assert all("running " in row for row in rows), (panel.stage, rows)
    finally:
        await engine.shutdown(stop_running=True)


async def test_6_at_220x60_the_log_pane_grows(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(app)(pilot)
        assert app.query_one("#log-tail").content_region.height >= 14


async def test_9_a_light_theme_shows_the_inactive_borders(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = "catppuccin-latte"
        await pilot.pause()
        inactive = [p for p in app.panels if p is not app.panel]
        assert inactive
        for panel in inactive:
            assert contrast(app, panel) > 0.2, panel.stage
        assert contrast(app, app.query_one("#log-tail")) > 0.2


async def test_the_current_stage_takes_the_new_themes_accent(demo: FakeEngine) -> None:
    """The current stage's heavy border is drawn in the theme's accent, also after a theme change (set as the
    panel's own style, it must follow the theme by itself)."""
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app)(pilot)
        for theme in ("catppuccin-latte", "nord"):
            app.theme = theme
            await pilot.pause()
            kind, colour = app.panel.styles.border_top
            assert kind == "heavy" and colour == Color.parse(app.theme_variables["accent"]), (theme, colour)
            for panel in app.panels:
                if panel is not app.panel:
                    assert panel.styles.border_top[0] == "round"
