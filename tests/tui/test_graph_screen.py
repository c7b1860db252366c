"""GraphScreen (`d`): the stages in layers, what each needs, its runs."""

from __future__ import annotations

from pathlib import Path

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_core.model import StageView
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.graph_screen import GraphScreen, drawing, layers
from tests.helpers.tui import screen_text
from tests.helpers.tui_pipelines import write


def test_graph_layers() -> None:
    def stage(name: str, needs: tuple[str, ...]) -> StageView:
        return StageView(name, 0, 1, False, {}, needs=needs)

    views = [
        stage("prepare", ()),
        stage("train", ("prepare",)),
        stage("baseline", ("prepare",)),
        stage("compare", ("train", "baseline")),
        stage("report", ("prepare", "compare")),
    ]
    assert layers(views) == [["prepare"], ["train", "baseline"], ["compare"], ["report"]]
    assert drawing(views) == "prepare ─▶ train, baseline ─▶ compare ─▶ report"


async def test_d_shows_the_graph(tmp_path: Path) -> None:
    eng = Engine(
        load_config(
            write(
                tmp_path,
                """
        [tasks.matrix]
        dataset = ["wine", "iris"]
        seed = [1, 2]
        [[stages]]
        name = "prepare"
        over = ["dataset"]
        command = ["true"]
        [[stages]]
        name = "train"
        command = ["true"]
        [[stages]]
        name = "baseline"
        needs = ["prepare"]
        command = ["true"]
        [[stages]]
        name = "compare"
        needs = ["train", "baseline"]
        over = []
        command = ["true"]
    """,
            )
        )
    )
    await eng.start()
    try:
        app = CoopyApp(eng)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("d")
            assert isinstance(app.screen, GraphScreen)
            text = screen_text(app)
            assert "prepare ─▶ train, baseline ─▶ compare" in text
            assert "per dataset" in text and "one run for all" in text
            rows = [line.strip("┃ ") for line in text.splitlines()]
            compare = next(row for row in rows if row.startswith("compare "))
            assert "train, baseline" in compare and " 1 " in compare
            prepare = next(row for row in rows if row.startswith("prepare ") and "per dataset" in row)
            assert " 2 " in prepare  # one run per dataset
    finally:
        await eng.shutdown(stop_running=True)
