"""What the graph of stages adds to the screen (issue 11): blocked runs with their reason, a group run's
progress while it waits for its members, and the graph itself. A real engine on a tmp pipeline."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.graph_screen import GraphScreen
from tests.helpers.tui import screen_text, settle, wait_for

CONFIG = """
    [pipeline]
    name = "groups"
    poll_interval = 0.5
    [tasks.matrix]
    lr = [1, 2]
    seed = [1, 2]
    [[stages]]
    name = "train"
    command = ["sh", "-c", "[ $0$1 = 21 ] && exit 5; [ $0$1 = 12 ] && exec sleep 600; echo ok", "{lr}", "{seed}"]
    workers = 4
    [[stages]]
    name = "evaluate"
    over = ["lr"]
    command = ["sh", "-c", "echo evaluated lr=$0", "{lr}"]
    workers = 2
"""


@pytest.fixture
async def groups(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "coopy.toml").write_text(textwrap.dedent(CONFIG))
    eng = Engine(load_config(tmp_path / "coopy.toml"))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


async def test_blocked_runs_and_waiting_groups_say_why(groups: Engine) -> None:
    app = CoopyApp(groups)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: (
                groups.stage_view("evaluate").counts.get("blocked") == 1
                and groups.stage_view("train").counts.get("done") == 2
            ),
            what="lr=2 blocked, lr=1 waiting",
        )
        await settle(app)(pilot)
        await pilot.press("tab")
        table = app.panel.table
        assert app.panel.stage == "evaluate"
        blocked = table.row_text("lr=2")
        assert blocked[0].startswith("⊗") and "blocked" in blocked[1]
        assert "train/lr=2,seed=1" in blocked[-1] and "failed" in blocked[-1]
        waiting = table.row_text("lr=1")
        assert waiting[1].strip() == "waiting"
        assert waiting[-1].strip() == "2 members; needs 1/2 done"
        header = app.panel.header.counts_text(80).plain
        assert "blocked 1" in header and "waiting 1" in header
        top = screen_text(app).splitlines()[0]
        assert "⊗ 1 blocked" in top or "⊗1" in top


async def test_the_graph_screen(groups: Engine) -> None:
    app = CoopyApp(groups)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        assert isinstance(app.screen, GraphScreen)
        text = screen_text(app)
        assert "train ─▶ evaluate" in text
        rows = [line.strip("┃ ") for line in text.splitlines()]
        evaluate = next(r for r in rows if r.startswith("evaluate ") and "per lr" in r)
        assert "train" in evaluate and " 2 " in evaluate
        await pilot.press("escape")
        assert not isinstance(app.screen, GraphScreen)
