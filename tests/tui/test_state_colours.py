"""State colours with meaning: failed red, done green, running bright (bold cyan), on the glyph and the
state word; under NO_COLOR the glyphs and the words stay (only the colour goes)."""

from __future__ import annotations

import io

from rich.color import Color
from rich.console import Console

from coopy_core.model import RunState, RunView
from coopy_tui.widgets.run_columns import STATE, TASK, Row

NOW = 1_700_000_000.0


def run(state: RunState) -> RunView:
    return RunView(
        task="lr=0.1,seed=1",
        stage="train",
        attempt=1,
        state=state,
        priority=0,
        exit_code=None,
        reason="",
        log="",
        started_at=NOW - 5,
        ended_at=None if state == RunState.RUNNING else NOW,
        not_before=None,
        pid=None,
        job_id=None,
        order=0,
    )


def colours(state: RunState) -> tuple[str, str]:
    """The colour of the glyph (task column) and of the state word."""
    row = Row(NOW, "", 30)
    task, word = TASK.cell(run(state), row), STATE.cell(run(state), row)
    glyph = task.get_style_at_offset(Console(), 0)
    style = word.get_style_at_offset(Console(), 0)
    return (glyph.color.name if glyph.color else "", style.color.name if style.color else "")


def test_failed_red_done_green_running_bright() -> None:
    glyph, word = colours(RunState.FAILED)
    assert glyph == word and Color.parse(word).triplet.red > 2 * max(Color.parse(word).triplet[1:]), word  # a red
    assert colours(RunState.DONE) == ("green", "green")
    assert colours(RunState.RUNNING) == ("cyan", "cyan")
    assert STATE.cell(run(RunState.RUNNING), Row(NOW, "", 30)).get_style_at_offset(Console(), 0).bold
    assert colours(RunState.QUEUED) == ("", ""), "the many queued rows stay plain"


def test_without_colour_the_glyphs_and_words_stay() -> None:
    out = io.StringIO()
    console = Console(file=out, no_color=True, force_terminal=True, width=60)
    for state in (RunState.FAILED, RunState.DONE, RunState.RUNNING):
        row = Row(NOW, "", 30)
        console.print(TASK.cell(run(state), row), STATE.cell(run(state), row))
    text = out.getvalue()
    assert "\x1b[31" not in text and "\x1b[32" not in text, "no colour under NO_COLOR"
    for glyph, word in (("✗", "failed"), ("✓", "done"), ("▶", "running")):
        assert glyph in text and word in text
