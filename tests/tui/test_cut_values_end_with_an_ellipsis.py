"""A value longer than its column ends with `…` where it is cut, so a person sees that there is more: the
`last line` column showed `wrote demo/out/model=cnn,see` at 80 columns, cut mid-word with no mark."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coopy_core.model import EventKind, RunState, RunView
from coopy_tui.app import CoopyApp
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle, wait_for, write_log

LONG = "wrote demo/out/model=resnet,seed=2/data.json and the checkpoint beside it"


async def test_a_last_line_cut_by_its_column_ends_with_an_ellipsis(in_tmp: Path) -> None:
    runs = [RunView(t, "train", 0, RunState.QUEUED, 0, order=i) for i, t in enumerate(["x=1", "x=2"])]
    engine = FakeEngine("p", [("train", 2, False, None)], runs, ["x=1", "x=2"])
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        log = write_log(in_tmp, "train", "x=2", 1, ["training", LONG])
        done = dataclasses.replace(
            engine.runs[("x=2", "train")], state=RunState.DONE, attempt=1, log=log, exit_code=0, started_at=1.0
        )
        engine.runs[("x=2", "train")] = done
        engine.emit(EventKind.RUN, run=done)
        table = app.panels[0].table
        await wait_for(pilot, lambda: table.last_line("x=2") == LONG, what="its last line")
        await wait_for(pilot, lambda: "wrote demo" in screen_text(app), what="the row drawn")
        row = next(line for line in screen_text(app).splitlines() if "wrote demo" in line)
        shown = row.split("wrote demo", 1)[1].rstrip(" ┃│")
        assert shown.endswith("…"), row
        assert LONG.startswith("wrote demo" + shown[:-1].rstrip()), row  # the start of the line, then the mark
