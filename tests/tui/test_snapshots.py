"""Screenshots of the UI over a scripted engine state (fixed clock, relative log paths, no blinking).

Regenerate with `pytest tests/tui --snapshot-update` and look at the SVGs before committing them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from coopy_core.model import EventKind, RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.graph_screen import GraphScreen
from coopy_tui.widgets.results_screen import ResultsScreen
from tests.helpers.tui import (
    NOW,
    TASKS,
    FakeEngine,
    counts,
    demo_engine,
    fixed_clock,
    screen_text,
    settle,
    wait_for,
    write_log,
)
from tests.helpers.tui_pipelines import sweep_engine

SIZES = [(80, 24), (120, 40), (200, 60)]


def make_app(engine: FakeEngine) -> CoopyApp:
    return CoopyApp(engine, clock=fixed_clock)


class TestPipeline:
    def test_demo_mid_run_120x40(self, demo: FakeEngine, snap_compare: Any) -> None:
        app = make_app(demo)
        assert snap_compare(app, terminal_size=(120, 40), run_before=settle(app))

    def test_demo_mid_run_80x24(self, demo: FakeEngine, snap_compare: Any) -> None:
        app = make_app(demo)
        assert snap_compare(app, terminal_size=(80, 24), run_before=settle(app))

    def test_failures_80x24(self, in_tmp: Path, snap_compare: Any) -> None:
        """One stage at a time, the tab strip marks train's failure; the cursor on it (f)."""
        app = make_app(finished_engine(in_tmp))

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("f")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)

    def test_failures_60x20(self, in_tmp: Path, snap_compare: Any) -> None:
        app = make_app(finished_engine(in_tmp))

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("f")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)

    def test_demo_mid_run_60x20(self, in_tmp: Path, snap_compare: Any) -> None:
        app = make_app(demo_engine(in_tmp, failed=True))
        assert snap_compare(app, terminal_size=(60, 20), run_before=settle(app))

    def test_light_theme_80x24(self, in_tmp: Path, snap_compare: Any) -> None:
        """catppuccin-latte: every border and the footer readable on a light background."""
        app = make_app(demo_engine(in_tmp, failed=True))

        async def run_before(pilot: Any) -> None:
            app.theme = "catppuccin-latte"
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)

    def test_paused_stage(self, demo: FakeEngine, snap_compare: Any) -> None:
        """`tab` to train, `p` pauses it (through the engine), `]` raises its cap to 3."""
        app = make_app(demo)

        async def run_before(pilot: Any) -> None:
            await pilot.press("tab", "p", "right_square_bracket")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
        assert demo.stages["train"].paused and demo.stages["train"].workers == 3

    def test_failed_run_with_its_error(self, in_tmp: Path, snap_compare: Any) -> None:
        engine = demo_engine(in_tmp, failed=True)
        app = make_app(engine)
        failed = engine.runs[(TASKS[5], "train")]

        async def run_before(pilot: Any) -> None:
            await pilot.press("tab")
            await wait_for(pilot, lambda: app.panel.table.select_task(failed.task), what="the failed row")
            engine.emit(
                EventKind.MESSAGE,
                message=f"train/{failed.task} attempt 3 failed: exit code 1",
                level="error",
                run=failed,
            )
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def finished_engine(root: Path) -> FakeEngine:
    """The demo at its end: resnet seed=2 failed training for good (so its evaluation is blocked), and
    cnn seed=1 failed its first attempt, then passed."""
    engine = demo_engine(root, failed=True)
    for (task, stage), run in list(engine.runs.items()):
        if run.state in (RunState.RUNNING, RunState.QUEUED):
            engine.runs[(task, stage)] = dataclasses.replace(
                run,
                state=RunState.DONE,
                ended_at=NOW - 1,
                exit_code=0,
                not_before=None,
                reason="",
                started_at=run.started_at or NOW - 3,
            )
    retried = engine.runs[(TASKS[1], "train")]
    engine.runs[(TASKS[1], "train")] = dataclasses.replace(
        retried, attempt=2, log=write_log(root, "train", TASKS[1], 2, ["epoch 6: loss 0.1", "wrote model.json"])
    )
    first = write_log(root, "train", TASKS[1], 1, ["train epoch 1/6", "CUDA out of memory (simulated)"])
    engine.history.append(
        {
            "task": TASKS[1],
            "stage": "train",
            "attempt": 1,
            "state": "failed",
            "exit_code": 1,
            "reason": "exit code 1",
            "started_at": NOW - 30,
            "ended_at": NOW - 25,
            "log": first,
        }
    )
    for task in TASKS:
        for stage in ("train", "evaluate"):
            if (task, stage) in engine.runs:
                continue
            state = RunState.BLOCKED if task == TASKS[5] and stage == "evaluate" else RunState.DONE
            reason = f"waits on train/{task}, which failed" if state == RunState.BLOCKED else ""
            log = write_log(root, stage, task, 1, [f"{stage} {task}: done"]) if state == RunState.DONE else ""
            engine.runs[(task, stage)] = dataclasses.replace(
                engine.runs[(TASKS[0], "train")],
                task=task,
                stage=stage,
                state=state,
                reason=reason,
                log=log,
                attempt=1 if log else 0,
                started_at=NOW - 10 if log else None,
                ended_at=NOW - 5,
                order=len(engine.runs),
            )
    runs = list(engine.runs.values())
    for name, view in engine.stages.items():
        engine.stages[name] = dataclasses.replace(
            view, counts=counts(runs, name, len(engine.tasks)), mean_duration=view.mean_duration or 1.0
        )
    return engine


class TestSummary:
    """`s` at the end: per stage counts that fit, the failures with their last line, the retried run."""

    def test_summary_80x24(self, in_tmp: Path, snap_compare: Any) -> None:
        app = make_app(finished_engine(in_tmp))

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("s")
            await pilot.pause(0.3)

        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)

    def test_summary_60x20(self, in_tmp: Path, snap_compare: Any) -> None:
        app = make_app(finished_engine(in_tmp))

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("s")
            await pilot.pause(0.3)

        assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)


class TestScreens:
    def test_help_screen(self, demo: FakeEngine, snap_compare: Any) -> None:
        app = make_app(demo)

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("question_mark")

        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)

    def test_log_view(self, demo: FakeEngine, snap_compare: Any) -> None:
        """`tab` to train, `down` to the second running run, `enter`: its log, full screen."""
        app = make_app(demo)

        async def run_before(pilot: Any) -> None:
            await pilot.press("tab")
            await wait_for(pilot, lambda: app.panel.table.select_task(TASKS[1]), what="the running row")
            await settle(app)(pilot)
            await pilot.press("enter")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


class TestSweep:
    """A 400-configuration sweep whose names share `dataset=cifar10-augmented-large`: the train stage's list (the
    values that differ, the shared param in the header), the results screen (`m`) and the graph (`d`)."""

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_sweep_main(self, in_tmp: Path, snap_compare: Any, size: tuple[int, int]) -> None:
        app = make_app(sweep_engine(in_tmp))

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("tab")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_sweep_results(self, in_tmp: Path, snap_compare: Any, size: tuple[int, int]) -> None:
        app = make_app(sweep_engine(in_tmp))

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("m")
            await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and bool(app.screen.rows()))
            await pilot.press("o")  # sorted by loss
            await wait_for(pilot, lambda: "loss ▲" in screen_text(app), what="the table drawn sorted by loss")

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_sweep_graph(self, in_tmp: Path, snap_compare: Any, size: tuple[int, int]) -> None:
        app = make_app(sweep_engine(in_tmp))

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, GraphScreen))
            await pilot.pause(0.2)

        assert snap_compare(app, terminal_size=size, run_before=run_before)
