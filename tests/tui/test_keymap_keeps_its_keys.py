"""A keymap written before this round's keys existed (space, ctrl+a, C, J) keeps its meaning: a key it binds to
another action takes that key from the new one instead of being refused; an older clash is still an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.errors import ConfigError
from coopy_tui.app import CoopyApp
from coopy_tui.settings import load_settings
from tests.helpers.engine import EngineFactory
from tests.helpers.tui import screen_text
from tests.helpers.tui_pipelines import write

PIPELINE = """
    [tasks.matrix]
    x = [1, 2, 3]
    [[stages]]
    name = "work"
    command = ["sleep", "600"]
    [tui.keys]
    toggle_pause = "space"
    sort = "J"
"""


async def test_space_bound_to_pause_before_marking_existed_still_pauses(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    path = write(tmp_path, PIPELINE)
    settings = load_settings(load_config(path), user=tmp_path / "none.toml")
    assert settings.keymap["coopy.mark"] == "" and settings.keymap["coopy.waits_on"] == ""
    engine = await start_engine(path)
    app = CoopyApp(engine, settings=settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("space")
        assert engine.stage_view("work").paused
        assert not app.panel.table.marked  # space is the keymap's, not marking
        await pilot.press("J")
        assert app.panel.table.sort.name != "queue"
        await pilot.press("question_mark")
        help_text = " ".join(screen_text(app).split())
        assert "space Pause or resume the stage" in help_text
        assert "(ctrl+p) Mark or unmark the selected run" in help_text  # still in the palette


def test_a_new_action_bound_to_a_key_that_was_there_before_is_still_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, PIPELINE.replace('toggle_pause = "space"', 'mark = "p"'))
    with pytest.raises(ConfigError, match="already the key of toggle_pause"):
        load_settings(load_config(path), user=tmp_path / "none.toml")
