"""PoolsScreen (`u`): resizing a resource pool through the engine; without pools the key names the resources table."""

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
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, wait_for


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


# ====================================================================== 5. pools without pools
async def test_5_no_pools_names_the_resources_table(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("u")
        await pilot.pause()
        assert "add a [resources] table to the config" in screen_text(app)
