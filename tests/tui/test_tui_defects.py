"""Issue 14's numbered defects, one test (or a few) each; every one failed on the code before the fix.

Real engines on tmp pipelines where the defect is about what the engine did (counts, commands,
attempts); the scripted engine where it is about drawing a given state. What is asserted is what a
person sees: the screen's text, the toasts on it, the engine's state.
"""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_core.model import EventKind, RunState
from coopy_core.report.status import read_status
from coopy_tui.app import CoopyApp
from coopy_tui.keys import KEYS
from coopy_tui.widgets.help_screen import HelpScreen, help_table
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.quit_screen import QuitScreen
from coopy_tui.widgets.summary_screen import SummaryScreen
from tests.helpers.tui import TASKS, FakeEngine, burst, demo_engine, fixed_clock, screen_text, settle, wait_for


def write(root: Path, body: str) -> Path:
    path = root / "coopy.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


# train fails for good for lr in FAIL (a last line of its own in the log), fails once for lr=1
TRAIN = """\
echo "train lr=$1 attempt $2"
for f in $FAIL; do
    if [ "$1" = "$f" ]; then echo "RuntimeError: loss is NaN at lr=$1" >&2; exit 1; fi
done
if [ "$1" = 1 ] && [ "$2" = 1 ]; then echo "CUDA out of memory" >&2; exit 2; fi
echo trained
"""
GRID = """
    [pipeline]
    name = "grid"
    poll_interval = 0.5
    [tasks.matrix]
    lr = {lrs}
    [[stages]]
    name = "train"
    command = ["sh", "train.sh", "{{lr}}", "{{attempt}}"]
    env = {{ FAIL = "{fail}" }}
    workers = 4
    retries = {retries}
    backoff = 0
    [[stages]]
    name = "evaluate"
    command = ["sh", "-c", "echo evaluated"]
    workers = 4
"""


def grid_config(root: Path, lrs: str, fail: str, retries: int) -> Path:
    (root / "train.sh").write_text(TRAIN)
    return write(root, GRID.format(lrs=lrs, fail=fail, retries=retries))


async def started(path: Path) -> Engine:
    engine = Engine(load_config(path))
    await engine.start()
    return engine


@pytest.fixture
async def grid(tmp_path: Path) -> AsyncIterator[Engine]:
    """lr = 1, 2, 10, 11: 2, 10 and 11 fail for good; 1 fails its first attempt, then passes."""
    eng = await started(grid_config(tmp_path, "[1, 2, 10, 11]", "2 10 11", retries=1))
    yield eng
    await eng.shutdown(stop_running=True)


def stage_count(engine: Engine, stage: str, state: str) -> int:
    return engine.stage_view(stage).counts.get(state, 0)


# ====================================================================== 1. failure toasts bury the screen
def failure_toasts(app: CoopyApp) -> int:
    """Failure toasts on screen now (everything but the start-up's), by the widgets mounted and by
    Textual's own list of live notifications."""
    live = [n for n in app._notifications if "fail" in (n.title + n.message).lower()]
    mounted = [t for t in app.screen.query("Toast") if "fail" in str(t.render()).lower()]
    return max(len(live), len(mounted))


async def test_1_a_flood_of_failures_is_one_updating_toast_that_never_covers_a_dialog(demo: FakeEngine) -> None:
    """200 failures in 2 s: at most one failure toast on screen at any moment, none over the summary,
    its count is the flood's own, and every failure is kept in the `!` history."""
    app = CoopyApp(demo, clock=fixed_clock)
    failed = demo.runs[(TASKS[3], "train")]
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app)(pilot)
        most = 0
        for burst in range(20):  # 200 failures in 2 s
            for i in range(10):
                n = burst * 10 + i
                run = dataclasses.replace(failed, task=f"lr={n}", state=RunState.FAILED)
                demo.emit(
                    EventKind.MESSAGE, message=f"train/lr={n} attempt 3 failed: exit code 1", level="error", run=run
                )
            await pilot.pause(0.1)
            most = max(most, failure_toasts(app))
            if burst == 10:
                await pilot.press("s")  # the summary opens in the middle of the flood
                assert isinstance(app.screen, SummaryScreen)
                await pilot.pause(0.2)
                assert failure_toasts(app) == 0, "a failure toast covers the summary"
                assert not list(app.screen.query("Toast")), "no toast covers a dialog"
                await pilot.press("escape")
        assert most <= 1
        await wait_for(
            pilot,
            lambda: any("200 attempts failed" in n.title for n in app._notifications),
            what="the toast to count the whole flood",
        )
        assert failure_toasts(app) == 1
        assert sum(1 for n in app.notices.items if n.kind == "failed") == 200


# ====================================================================== 2. fast ] / [ presses are lost
@pytest.fixture
def background(tmp_path: Path) -> Iterator[object]:
    """A real background engine (a daemon, over the socket): what coopy-tui attaches to by default."""
    from coopy_core.wire.daemon import ensure_engine

    config = load_config(
        write(
            tmp_path,
            """
        [pipeline]
        name = "burst"
        poll_interval = 0.5
        [tasks.matrix]
        x = [1, 2, 3, 4]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
        workers = 1
    """,
        )
    )
    client, _started = ensure_engine(config, events=True)
    pid = client.info.get("pid")
    yield client
    client.stop(stop_running=True)
    client.close()
    deadline = time.monotonic() + 30
    while isinstance(pid, int) and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        if isinstance(pid, int):
            os.kill(pid, signal.SIGKILL)


def engine_workers(client: object) -> int:
    return next(s for s in client.snapshot().stages if s.name == "work").workers  # type: ignore[attr-defined]


async def test_2_ten_presses_in_one_burst_are_ten_steps(background: object) -> None:
    """The engine in another process: its events come back after each reply, so a command built from
    the screen's view of the cap (cap + 1) would send the same number again and again."""
    app = CoopyApp(background, background=True)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        burst(app, "right_square_bracket", 10, "]")
        await wait_for(
            pilot,
            lambda: app.state.stages["work"].workers == engine_workers(background) and not app.state.pending,
            what="the screen to catch up",
            timeout=10,
        )
        await pilot.pause(0.5)
        assert engine_workers(background) == 11
        burst(app, "left_square_bracket", 10, "[")
        await wait_for(
            pilot,
            lambda: app.state.stages["work"].workers == engine_workers(background) and not app.state.pending,
            what="the screen to catch up",
            timeout=10,
        )
        await pilot.pause(0.5)
        assert engine_workers(background) == 1
    assert background.attempt_history("work") == []  # type: ignore[attr-defined]  # over the socket too


async def test_2_ten_presses_in_one_burst_in_process(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
        workers = 2
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            burst(app, "right_square_bracket", 10, "]")
            await pilot.pause(0.3)
            assert engine.stage_view("work").workers == 12
            burst(app, "left_square_bracket", 4, "[")
            await pilot.pause(0.3)
            assert engine.stage_view("work").workers == 8
    finally:
        await engine.shutdown(stop_running=True)


# ====================================================================== 3. progress lies at the end
async def test_3_progress_after_failures_agrees_with_coopy_status(tmp_path: Path) -> None:
    path = grid_config(tmp_path, "[1, 2, 3, 4, 5]", "2 4", retries=0)
    engine = await started(path)
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: engine.finished, what="the pipeline to finish")
            await wait_for(
                pilot,
                lambda: any(n.title == "Pipeline finished" for n in app._notifications),
                what="the finished toast",
            )
            await settle(app)(pilot)
            text = screen_text(app)
            top = text.splitlines()[0]
            # lr=2 and 4 fail, and lr=1 (its first attempt, with no retry): 3 failed, 3 evaluations blocked
            assert "finished: 3 failed, 3 blocked" in top and "ETA" not in top
            toast = next(n for n in app._notifications if n.title == "Pipeline finished")
            assert toast.message.startswith("finished: 3 failed, 3 blocked")  # the same words as the top bar
            status = {s["name"]: s for s in read_status(engine.config)["stages"]}
            assert status["train"]["counts"]["failed"] == 3 and status["evaluate"]["counts"]["blocked"] == 3
            for panel in app.panels:
                counts = status[panel.stage]["counts"]
                header = panel.header.bar_text(60).plain + " " + panel.header.counts_text(60).plain
                done = counts["done"] + counts["skipped"]
                assert f" {done}/{status[panel.stage]['total']} " in header, header
                assert "ETA" not in header, header
                assert not panel.header.bar_text(60).plain.rstrip().endswith("done"), f"{panel.stage}: {header}"
                assert f"failed {counts['failed']}" in header
                if counts["blocked"]:
                    assert f"blocked {counts['blocked']}" in header
    finally:
        await engine.shutdown(stop_running=True)


async def test_3_after_a_cancel_the_top_bar_and_the_toast_say_the_same(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        command = ["sleep", "0.5"]
        workers = 1
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            table = app.panel.table
            await wait_for(pilot, lambda: "x=3" in table.shown_tasks(), what="the rows")
            while table.selected_task != "x=3":
                await pilot.press("j")
            await pilot.press("c", "y")
            await wait_for(pilot, lambda: engine.finished, what="the pipeline to finish")
            await wait_for(
                pilot,
                lambda: any(n.title == "Pipeline finished" for n in app._notifications),
                what="the finished toast",
            )
            await settle(app)(pilot)
            top = screen_text(app).splitlines()[0]
            toast = next(n for n in app._notifications if n.title == "Pipeline finished")
            assert "finished: 1 cancelled" in top
            assert toast.message.startswith("finished: 1 cancelled")
            assert "cancelled 1" in app.panel.header.counts_text(80).plain
    finally:
        await engine.shutdown(stop_running=True)


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


# ====================================================================== 5. pools without pools
async def test_5_no_pools_names_the_resources_table(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("u")
        await pilot.pause()
        assert "add a [resources] table to the config" in screen_text(app)


# ====================================================================== 6. narrow and wide screens
async def test_6_at_80x24_every_key_is_reachable(in_tmp: Path) -> None:
    app = CoopyApp(demo_engine(in_tmp, failed=True), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        footer = "\n".join(screen_text(app).splitlines()[-2:])
        for hint in ("s summary", "⇥⇤ stage", "^p palette", "⏎ log", "! news", "fF failed", "? keys"):
            assert hint in footer, (hint, footer)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=200, file=io.StringIO(), record=True)
        console.print(help_table(app.settings.keymap))
        listed = console.export_text()
        for key in KEYS:
            assert key.help in listed, key.action


async def test_6_at_60x20_the_top_bar_keeps_failed_and_eta(in_tmp: Path) -> None:
    app = CoopyApp(demo_engine(in_tmp, failed=True), clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(app)(pilot)
        top = screen_text(app).splitlines()[0]
        assert "✗1" in top.replace(" ", "") and "ETA" in top, top


async def test_6_at_120x40_side_panels_show_whole_states(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        model = ["resnet50-wide", "vit-base-patch16"]
        seed = [1, 2]
        [[stages]]
        name = "prepare"
        command = ["sleep", "600"]
        workers = 2
        needs = []
        [[stages]]
        name = "train"
        command = ["sleep", "600"]
        workers = 2
        needs = []
        [[stages]]
        name = "evaluate"
        command = ["sleep", "600"]
        workers = 2
        needs = []
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot,
                lambda: all(engine.stage_view(s).running == 2 for s in ("prepare", "train", "evaluate")),
                what="two runs in every stage",
            )
            await settle(app)(pilot)
            assert app.query_one("#body").has_class("-columns")
            for panel in app.panels:
                rows = [panel.table.render_line(y).text for y in range(1, 3)]
                assert all("running " in row for row in rows), (panel.stage, rows)
    finally:
        await engine.shutdown(stop_running=True)


async def test_6_at_220x60_the_log_pane_grows(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(app)(pilot)
        assert app.query_one("#log-tail").content_region.height >= 14


# ====================================================================== 7. the command palette
async def test_7_palette_quit_asks_and_textual_extras_are_gone(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: engine.stage_view("work").running == 1, what="a running run")
            await pilot.press("ctrl+p")
            await pilot.pause()
            titles = [c.title for c in app.get_system_commands(app.screen_stack[0])]
            assert not any(t in ("Keys", "Maximize", "Minimize") for t in titles), titles
            quits = [t for t in titles if t.startswith("Quit")]
            assert len(quits) == 1, quits
            await pilot.press(*"quit", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen), what="the quit question")
            await pilot.press("escape")
            assert app.is_running
    finally:
        await engine.shutdown(stop_running=True)


# ====================================================================== 8. the filter
async def test_8_filter_counts_says_no_matches_and_matches_key_value_exactly(in_tmp: Path) -> None:
    from coopy_core.model import RunView

    tasks = [f"lr={n}" for n in (1, 2, 13, 14, 19)]
    runs = [RunView(t, "train", 0, RunState.QUEUED, 0, order=i) for i, t in enumerate(tasks)]
    engine = FakeEngine("f", [("train", 1, False, None)], runs, tasks)
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        footer_before = app.query_one("#keys").size.height
        await pilot.press("slash", *"lr=1")
        assert app.panel.table.shown_tasks() == ["lr=1"]
        assert "1 of 5" in screen_text(app)
        assert app.query_one("#keys").size.height == footer_before, "the footer keeps its size while typing"
        assert "esc" in "".join(screen_text(app).splitlines()[-2:])
        await pilot.press(*"*")
        assert app.panel.table.shown_tasks() == ["lr=1", "lr=13", "lr=14", "lr=19"]
        await pilot.press("backspace", "backspace", "backspace", *"zzz")
        assert app.panel.table.shown_tasks() == []
        assert "no matches" in screen_text(app)


async def test_8_a_run_that_leaves_the_filter_after_a_command_says_so(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "work"
        command = ["sh", "-c", "exit 3"]
        workers = 2
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: stage_count(engine, "work", "failed") == 2, what="both to fail")
            await pilot.press("slash", *"failed", "enter")
            await wait_for(pilot, lambda: len(app.panel.table.shown_tasks()) == 2, what="the filtered rows")
            task = app.panel.table.selected_task
            await pilot.press("r")
            await wait_for(
                pilot,
                lambda: any("left the filter" in n.message for n in app._notifications),
                what="the run to say it left the filter",
            )
            message = next(n.message for n in app._notifications if "left the filter" in n.message)
            assert f"work/{task}" in message
    finally:
        await engine.shutdown(stop_running=True)


# ====================================================================== 9. finding failures
async def test_9_tabs_show_failures_and_a_click_switches_stage(in_tmp: Path) -> None:
    app = CoopyApp(demo_engine(in_tmp, failed=True), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        tabs = screen_text(app).splitlines()[1]
        assert "train" in tabs and "✗1" in tabs, tabs
        x = tabs.index("evaluate")
        await pilot.click("#tabs", offset=(x + 1, 0))
        assert app.panel.stage == "evaluate"
        x = screen_text(app).splitlines()[1].index("train")
        await pilot.click("#tabs", offset=(x + 1, 0))
        assert app.panel.stage == "train"


async def test_9_t_on_the_first_in_line_says_so(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            table = app.panel.table
            await wait_for(pilot, lambda: table.shown_tasks()[:2] == ["x=1", "x=2"], what="the rows")
            await pilot.press("j")  # x=2: queued, first in line
            assert engine.queue_order("work")[0] == "x=2"
            await pilot.press("t")
            await wait_for(
                pilot, lambda: any("already first in line" in n.message for n in app._notifications), what="the answer"
            )
            assert engine.queue_order("work") == ["x=2", "x=3"]
    finally:
        await engine.shutdown(stop_running=True)


def contrast(app: CoopyApp, widget: object) -> float:
    """How far a widget's border colour is from what is behind it (0: invisible, 1: black on white)."""
    _base, background = widget.background_colors  # type: ignore[attr-defined]
    border = widget.styles.border_top[1]  # type: ignore[attr-defined]
    shown = background + border  # a translucent border is blended over what is behind it
    return abs(shown.brightness - background.brightness)


async def test_9_a_light_theme_shows_the_inactive_borders(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = "catppuccin-latte"
        await pilot.pause()
        inactive = [p for p in app.panels if not p.has_class("-current")]
        assert inactive
        for panel in inactive:
            assert contrast(app, panel) > 0.2, panel.stage
        assert contrast(app, app.query_one("#log-tail")) > 0.2
