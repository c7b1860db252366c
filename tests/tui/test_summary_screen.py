"""SummaryScreen (`s`): per stage counts and durations, failures with their last line, enter opens a log; hooks
notify.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.summary_screen import SummaryScreen, summary_table
from tests.helpers.tui import demo_engine, fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import grid_config, started

# train fails for good for lr in FAIL (a last line of its own in the log), fails once for lr=1


@pytest.fixture
async def grid(tmp_path: Path) -> AsyncIterator[Engine]:
    """lr = 1, 2, 10, 11: 2, 10 and 11 fail for good; 1 fails its first attempt, then passes."""
    eng = await started(grid_config(tmp_path, "[1, 2, 10, 11]", "2 10 11", retries=1))
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


def test_summary_table_fits() -> None:
    from coopy_tui.widgets.summary_screen import StageSummary

    rows = [StageSummary("a-very-long-stage-name", 12345, 0, 3, 0, 2, 0, 1.0, 2.0, ())]
    for width in (40, 56, 76, 92):
        text = summary_table(rows, width).plain
        assert max(len(line) for line in text.splitlines()) <= max(width, 50), (width, text)
        assert "12345" in text


# ====================================================================== 4. the summary
async def test_4_summary_natural_order_last_line_enter_and_the_retried_run(grid: Engine) -> None:
    app = CoopyApp(grid)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: grid.finished, what="the pipeline to finish")
        await settle(app)(pilot)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SummaryScreen)
        await wait_for(pilot, lambda: "loss is NaN at lr=10" in screen.text(), what="the log's last line")
        lines = screen.text().splitlines()[1:]
        failed = [line for line in lines if line.startswith("✗")]
        assert [line.split(":")[0] for line in failed] == ["✗ train/lr=2", "✗ train/lr=10", "✗ train/lr=11"]
        assert all("RuntimeError: loss is NaN" in line for line in failed)
        assert any("train/lr=1: failed once, then done" in line for line in lines)
        await pilot.press("down")  # the first row is lr=1 (retried), the second lr=2
        await pilot.press("enter")
        assert isinstance(app.screen, LogScreen), "enter opens the run's log"
        assert app.screen.run.task == "lr=2"
        await wait_for(pilot, lambda: any("loss is NaN" in line for line in app.screen.log_view.lines), what="its log")


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_4_summary_columns_fit(in_tmp: Path, size: tuple[int, int]) -> None:
    engine = demo_engine(in_tmp, failed=True)
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await settle(app)(pilot)
        await pilot.press("s")
        await pilot.pause()
        text = screen_text(app)
        header = next((line for line in text.splitlines() if line.strip("┃ ").startswith("stage ")), "")
        assert header and "…" not in header, header
        if size[0] >= 80:
            for word in ("done", "skipped", "failed", "cancelled", "blocked", "mean", "longest"):
                assert f" {word} " in header, header
        else:
            for glyph in ("✓", "✗", "⊘", "⊗"):
                assert glyph in header
        for stage in ("prepare", "train", "evaluate"):
            assert any(line.strip("┃ ").startswith(stage) for line in text.splitlines()), stage


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
