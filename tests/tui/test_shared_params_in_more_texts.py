"""More texts that name a run of a sweep whose names share `dataset=cifar10-augmented-large,`: the log
pane's bottom border of a blocked run and the cancel / run-again questions leave that shared param out,
as the list does (they kept it, and were cut or broken mid-name at 80 columns). A file's path is never
shortened: `y` said `copied: .../train/model=...` of a log whose file is `.../train/dataset=...,model=...`."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from coopy_tui.app import CoopyApp
from coopy_tui.names import Names
from coopy_tui.widgets.confirm_screen import ConfirmScreen
from coopy_tui.widgets.log_screen import LogScreen
from tests.helpers.tui import fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import DATASET, SWEEP_TASKS, sweep_engine

FAILED = SWEEP_TASKS[154]  # train failed for good (its log is written); evaluate is blocked on it
QUEUED = SWEEP_TASKS[156]  # train queued
DONE = SWEEP_TASKS[3]  # train done


def said(app: CoopyApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_blocked_runs_log_border_names_what_it_waits_on_shortened(tmp_path: Path) -> None:
    app = CoopyApp(sweep_engine(tmp_path), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        assert app.jump_to("evaluate", FAILED)
        await settle(app)(pilot)
        subtitle = str(app.pane.border_subtitle)
        assert subtitle == "waits on train/model=vit-base,lr=0.1,seed=4, which failed", subtitle
        border = [line for line in screen_text(app).splitlines() if "╰" in line and "waits on" in line]
        assert border and "seed=4, which failed" in border[0] and DATASET not in border[0], border

        await pilot.press("enter")  # the log view says the reason under its title
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen), what="the log view")
        details = str(app.screen.query_one("#log-details", Static).render())
        assert "waits on train/model=vit-base,lr=0.1,seed=4, which failed" in details, details


async def test_the_cancel_and_run_again_questions_name_the_run_shortened(tmp_path: Path) -> None:
    app = CoopyApp(sweep_engine(tmp_path), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        assert app.jump_to("train", QUEUED)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cancel question")
        question = "Cancel train/model=vit-base,lr=0.1,seed=6 (queued)?"
        assert app.screen.question == question  # type: ignore[attr-defined]
        assert any(question in line for line in screen_text(app).splitlines()), screen_text(app)  # one line, whole
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the question to close")

        assert app.jump_to("train", DONE)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the run-again question")
        question = app.screen.question  # type: ignore[attr-defined]
        assert question.startswith("Run train/model=resnet18,lr=0.1,seed=3 (done) again?"), question


async def test_copying_a_logs_path_copies_and_says_the_whole_path(tmp_path: Path) -> None:
    engine = sweep_engine(tmp_path)
    app = CoopyApp(engine, clock=fixed_clock)
    log = engine.runs[(FAILED, "train")].log
    assert DATASET in log
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app)(pilot)
        assert app.jump_to("train", FAILED)
        await settle(app)(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: any("copied" in s for s in said(app)), what="the copied toast")
        assert app.clipboard == log
        assert f"copied: {log}" in said(app), said(app)
        app.clear_notifications()

        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen), what="the log view")
        assert str(app.screen.query_one("#log-path", Static).render()) == log
        await pilot.press("y")
        await wait_for(pilot, lambda: any("copied" in s for s in said(app)), what="the copied toast")
        assert app.clipboard == log
        assert f"copied: {log}" in said(app), said(app)
        assert any(f"copied: {log}" == n.text for n in app.notices.newest_first()), "the `!` history has it whole"


def test_a_path_in_any_text_is_left_whole() -> None:
    """Engine errors and notices may name a log by its path: its params are part of the file's name."""
    names = Names.of(SWEEP_TASKS)
    log = f"logs/train/{DONE}.1.log"
    for path in (log, f"/tmp/run/.coopy/{log}", f"./{log}", f"~/{log}"):
        for text in (f"copied: {path}", f"cannot read '{path}': gone", f"see ({path})"):
            assert names.in_text(text) == text
    mixed = f"train/{DONE} failed: see /tmp/run/{log}"
    assert names.in_text(mixed) == f"train/model=resnet18,lr=0.1,seed=3 failed: see /tmp/run/{log}"
    paths = Names.of(["data=/mnt/a/b,lr=0.1", "data=/mnt/a/b,lr=0.2"])  # a value with slashes is no path
    assert paths.in_text("train/data=/mnt/a/b,lr=0.1 failed") == "train/lr=0.1 failed"
    assert paths.in_text("see logs/train/data=/mnt/a/b,lr=0.1.1.log") == "see logs/train/data=/mnt/a/b,lr=0.1.1.log"
