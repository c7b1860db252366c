"""The summary (`s`) gives a failed run's reason the terminal's whole width: at 120 columns a reason of 80
characters is read whole (the box was 96 wide and cut it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coopy_core.model import RunState
from coopy_tui.app import CoopyApp
from coopy_tui.format import STATE_GLYPHS
from coopy_tui.widgets.summary_screen import LEGEND, NUMBER_COLUMNS, SummaryScreen
from tests.helpers.tui import demo_engine, fixed_clock, screen_text, settle, wait_for

REASON = "exit code 1; the data loader ran out of shared memory at batch 1832 of shard 7"


async def test_a_long_reason_is_shown_whole_at_120_columns(in_tmp: Path) -> None:
    engine = demo_engine(in_tmp, failed=True)
    key = next(k for k, r in engine.runs.items() if r.state == RunState.FAILED)
    engine.runs[key] = dataclasses.replace(engine.runs[key], reason=REASON)
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app)(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, SummaryScreen)
        screen = app.screen
        await wait_for(pilot, lambda: "CUDA out of memory" in screen.text(), what="the log's last line")
        await pilot.pause()
        line = f"✗ train/{key[0]}: {REASON}"
        shown = screen_text(app)
        assert line in shown, shown
        assert len(line) > 96 - 4, "longer than the old box held"


def test_the_narrow_summary_says_left_with_a_symbol_of_its_own() -> None:
    """`◦` means waiting for what it needs everywhere else; `left` counts queued and running runs too."""
    left = next(short for long, short, _field in NUMBER_COLUMNS if long == "left")
    assert left not in STATE_GLYPHS.values() and f"{left}left" in LEGEND
