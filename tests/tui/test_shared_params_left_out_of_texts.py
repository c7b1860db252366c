"""In a sweep whose names share `dataset=cifar10-augmented-large,`, the texts that name runs (a blocked run's
`waits on train/...` in the list, the summary's failures, the `!` list, the failure toast) leave that shared
param out, as the list's names do: at 80 columns they were cut before the lr and seed, so two different runs
read the same and the reason never showed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coopy_core.engine import CommandError
from coopy_core.model import EventKind, RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.notices_screen import NoticesScreen
from coopy_tui.widgets.summary_screen import SummaryScreen
from tests.helpers.tui import fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import DATASET, SWEEP_TASKS, sweep_engine


def toasts(app: CoopyApp) -> list[str]:
    return [n.message for n in app._notifications if "failed" in n.title]


async def test_texts_naming_runs_show_what_differs(tmp_path: Path) -> None:
    engine = sweep_engine(tmp_path)
    app = CoopyApp(engine, clock=fixed_clock)
    blocked = SWEEP_TASKS[154]  # evaluate waits on its train run, which failed
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app)(pilot)
        assert app.jump_to("evaluate", blocked)
        await settle(app)(pilot)
        row = app.panel.table.row_text(blocked)
        assert "waits on train/model=vit-base,lr=0.1,seed=4, which failed" in row[-1], row

        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen), what="the summary")
        failed = [line for line in screen_text(app).splitlines() if "✗ train/" in line]
        assert len(failed) == 2 and all(DATASET not in line for line in failed), failed
        assert all("exit code 1" in line for line in failed), failed  # the reason is in view at 80 columns
        await pilot.press("escape")

        run = dataclasses.replace(engine.runs[(SWEEP_TASKS[160], "train")], state=RunState.FAILED)
        engine.emit(
            EventKind.MESSAGE, message=f"train/{run.task} attempt 2 failed: exit code 1", level="error", run=run
        )
        await wait_for(pilot, lambda: toasts(app), what="the failure toast")
        assert any("train/model=vit-base,lr=0.03,seed=0 attempt 2 failed" in t for t in toasts(app)), toasts(app)
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, NoticesScreen), what="the notices")
        line = next(line for line in screen_text(app).splitlines() if "✗ train/" in line)
        assert "model=vit-base,lr=0.03,seed=0 attempt 2 failed" in line, line


async def test_the_log_titles_show_what_differs(tmp_path: Path) -> None:
    engine = sweep_engine(tmp_path)
    app = CoopyApp(engine, clock=fixed_clock)
    failed = SWEEP_TASKS[154]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        assert app.jump_to("train", failed)
        await settle(app)(pilot)
        title = str(app.pane.border_title)
        assert title.startswith("log · train/model=vit-base,lr=0.1,seed=4 · attempt 3"), title
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen), what="the log view")
        assert "train/model=vit-base,lr=0.1,seed=4 · attempt 3" in screen_text(app).splitlines()[0]


async def test_the_answer_to_a_key_shows_what_differs(tmp_path: Path) -> None:
    engine = sweep_engine(tmp_path)
    app = CoopyApp(engine, clock=fixed_clock)
    done = SWEEP_TASKS[3]

    def top(task: str, stage: str) -> int:  # the real engine's answer (coopy_core/engine/commands.py)
        raise CommandError(f"{stage}/{task} is done; only queued runs have a place in the line")

    engine.top = top  # type: ignore[method-assign]
    async with app.run_test(size=(60, 20), notifications=True) as pilot:
        await settle(app)(pilot)
        assert app.jump_to("train", done)
        await pilot.press("t")
        await wait_for(
            pilot, lambda: [n for n in app._notifications if n.title == "Nothing changed"], what="the answer"
        )
        said = [n.message for n in app._notifications if n.title == "Nothing changed"]
        assert "train/model=resnet18,lr=0.1,seed=3 is done" in said[0] and DATASET not in said[0], said
