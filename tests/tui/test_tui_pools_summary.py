"""`u` resizes a resource pool through the engine, `s` shows the end-of-pipeline summary, hooks notify."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.pools_screen import PoolsScreen
from coopy_tui.widgets.summary_screen import SummaryScreen
from tests.helpers.tui import wait_for


@pytest.fixture
async def gpu_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "coopy.toml").write_text(
        textwrap.dedent("""
        [pipeline]
        name = "pools"
        poll_interval = 0.5
        [resources]
        gpus = [0, 1]
        [tasks.matrix]
        x = [1, 2, 3, 4]
        [[stages]]
        name = "train"
        command = ["sleep", "600"]
        workers = 4
        resources = { gpus = 1 }
        """)
    )
    eng = Engine(load_config(tmp_path / "coopy.toml"))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


@pytest.fixture
async def finishing(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "coopy.toml").write_text(
        textwrap.dedent("""
        [pipeline]
        name = "ends"
        poll_interval = 0.5
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        command = ["sh", "-c", "sleep 0.2; [ $0 != 2 ]", "{x}"]
        workers = 3
        on_done = ["true"]
        """)
    )
    eng = Engine(load_config(tmp_path / "coopy.toml"))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


async def test_u_resizes_a_pool_in_the_engine(gpu_engine: Engine) -> None:
    app = CoopyApp(gpu_engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: gpu_engine.stage_view("train").running == 2, what="two runs on two GPUs")
        await pilot.press("u")
        assert isinstance(app.screen, PoolsScreen)
        await pilot.press(*"nope=3", "enter")
        assert isinstance(app.screen, PoolsScreen), "a bad pool stays on screen with the reason"
        assert "no pool named 'nope'" in str(app.screen.query_one("#pools-error", Static).render())
        assert gpu_engine.snapshot().pools["gpus"]["size"] == ["0", "1"]
        app.screen.query_one("#pools-input", Input).value = ""
        await pilot.press(*"gpus=0,1,2", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PoolsScreen), what="the dialog to close")
        assert gpu_engine.snapshot().pools["gpus"]["size"] == ["0", "1", "2"]
        await wait_for(pilot, lambda: gpu_engine.stage_view("train").running == 3, what="a third run on the new GPU")
        held = sorted(r.resources["gpus"][0] for r in gpu_engine.snapshot().runs if r.state.value == "running")
        assert held == ["0", "1", "2"]


async def test_s_shows_the_summary_and_hooks_notify(finishing: Engine) -> None:
    app = CoopyApp(finishing)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: finishing.finished, what="the pipeline to finish")
        await wait_for(
            pilot,
            lambda: any(n.title == "Pipeline finished" for n in app._notifications),
            what="the finished notification",
        )
        await wait_for(
            pilot,
            lambda: sum(n.kind == "hook" for n in app.notices.items) == 2,
            what="both on_done hooks in the history",
        )
        assert sum(n.title == "Hook" for n in app._notifications) <= 1, "one hook toast at a time"
        await pilot.press("s")
        assert isinstance(app.screen, SummaryScreen)
        (work,) = app.screen.summaries
        assert (work.done, work.failed) == (2, 1)
        assert work.mean is not None and work.longest is not None and work.longest >= 0.2
        assert work.failures == (("x=2", "exit code 1"),)
        assert "work/x=2: exit code 1" in app.screen.text()
        await pilot.press("escape")
        assert not isinstance(app.screen, SummaryScreen)
