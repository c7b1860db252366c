"""A run's log outside the app: y copies its path, v / e open $PAGER / $EDITOR (here: where the terminal cannot
be handed over; tmux does the real round trip).
"""

from __future__ import annotations

from coopy_core.engine import Engine
from coopy_tui.app import CoopyApp
from tests.helpers.tui import wait_for
from tests.helpers.tui_pipelines import settled_failures


async def test_y_copies_the_log_path_and_v_says_when_it_cannot_hand_over_the_terminal(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settled_failures(pilot, failing)
        run = app.selected()
        assert run is not None and run.log
        await pilot.press("y")
        assert app.clipboard == run.log
        assert any(run.log in n.message for n in app._notifications)
        await pilot.press("v")  # the test terminal cannot be handed over: said, nothing breaks
        await wait_for(
            pilot, lambda: any("Cannot hand the terminal" in n.message for n in app._notifications), what="the refusal"
        )
        assert app.is_running


def test_pager_and_editor_commands() -> None:
    from coopy_tui.external import command_for, osc

    assert command_for("pager", {}) == ["less"]
    assert command_for("pager", {"PAGER": "less -R +G"}) == ["less", "-R", "+G"]
    assert command_for("editor", {"EDITOR": "nano"}) == ["nano"]
    assert command_for("editor", {"VISUAL": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert command_for("editor", {}) == ["vi"]
    assert command_for("pager", {"PAGER": "'unbalanced"}) == ["less"]
    assert osc("osc777", "CooPy; x", "done\x1b[2J") == "\x1b]777;notify;CooPy, x;done [2J\x07"
    assert osc("bell", "t", "b") == "\x07" and osc("none", "t", "b") == ""
