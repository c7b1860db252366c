"""A value longer than its column ends with `…` where it is cut, so a person sees that there is more: the
`last line` column showed `wrote demo/out/model=cnn,see` at 80 columns, cut mid-word with no mark."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from tests.helpers.tui import end_with_log, fixed_clock, one_queued_stage, screen_text, settle, wait_for

LONG = "wrote demo/out/model=resnet,seed=2/data.json and the checkpoint beside it"


async def test_a_last_line_cut_by_its_column_ends_with_an_ellipsis(in_tmp: Path) -> None:
    engine = one_queued_stage("train", ["x=1", "x=2"])
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        end_with_log(engine, in_tmp, "train", "x=2", ["training", LONG])
        table = app.panels[0].table
        await wait_for(pilot, lambda: table.last_line("x=2") == LONG, what="its last line")
        await wait_for(pilot, lambda: "wrote demo" in screen_text(app), what="the row drawn")
        row = next(line for line in screen_text(app).splitlines() if "wrote demo" in line)
        shown = row.split("wrote demo", 1)[1].rstrip(" ┃│")
        assert shown.endswith("…"), row
        assert LONG.startswith("wrote demo" + shown[:-1].rstrip()), row  # the start of the line, then the mark
