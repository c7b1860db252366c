"""The TUI's progress is `coopy status`'s: "done" counts done and skipped runs (README: The terminal UI), so a
stage whose three runs were all skipped (`skip_if_done`, their outputs already there) shows 3/3 done — in the
top bar, the stage's header and its bar — not 0/3."""

from __future__ import annotations

import re
from pathlib import Path

from coopy_core import Engine, RunState, load_config
from coopy_tui.app import CoopyApp
from tests.helpers.cli import status
from tests.helpers.engine import write_config
from tests.helpers.tui import screen_text, wait_for


async def test_a_stage_of_skipped_runs_shows_them_done(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.2
        [tasks.matrix]
        i = [1, 2, 3]
        [[stages]]
        name = "make"
        command = ["sh", "-c", "echo ran >> marks.txt; touch out/$0.txt", "{i}"]
        done_when = ["out/{i}.txt"]
        skip_if_done = true
        """,
    )
    (tmp_path / "out").mkdir()
    for i in (1, 2, 3):
        (tmp_path / "out" / f"{i}.txt").write_text("made before\n")  # made by no run CooPy knows: trusted
    engine = Engine(load_config(cfg))
    await engine.start()
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: engine.finished, timeout=30, what="the pipeline to finish")
            assert [r.state for r in engine.snapshot().runs] == [RunState.SKIPPED] * 3
            assert not (tmp_path / "marks.txt").exists(), "nothing ran"
            await wait_for(
                pilot, lambda: screen_text(app).count("skipped  ") == 3, timeout=10, what="the three skipped rows"
            )
            text = screen_text(app)
            top = text.splitlines()[0]
            assert re.search(r"\b3/3 done\b", top), f"the top bar counts skipped runs as done:\n{text}"
            assert re.search(r"\b3/3\s+done\b", text.split("\n", 1)[1]), f"the stage's bar says 3/3 done:\n{text}"
            assert not re.search(r"\b0/3\b", text), text
            header = app.panel.header
            assert "3/3" in header.bar_text(60).plain and "skipped 3" in header.counts_text(80).plain
    finally:
        await engine.shutdown(stop_running=True)
    stage = status(cfg)["stages"][0]
    assert stage["counts"]["skipped"] == 3 and stage["total"] == 3  # what `coopy status` says, the same
