"""Small pieces: the log view follows the end, the state model batches events, the bars and ETAs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.app import App, ComposeResult

from coopy_core.model import Event, EventKind, RunState, StageView
from coopy_tui.format import bar, pipeline_eta, stage_eta
from coopy_tui.keys import KEYS, markdown_table
from coopy_tui.state import PipelineState
from coopy_tui.widgets.log_view import LogView
from tests.helpers.tui import demo_engine


class LogApp(App[None]):
    CSS = "LogView { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield LogView(max_lines=50)


async def test_log_view_follows_the_end_until_scrolled_up_and_stays_bounded() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 20)) as pilot:
        view = app.query_one(LogView)
        view.replace([f"l{i}" for i in range(30)])
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y  # still at the end after a resize
        view.scroll_up(animate=False)
        await pilot.pause()
        view.append(["new"])
        await pilot.pause()
        assert view.scroll_y < view.max_scroll_y  # the reader scrolled up: do not yank them down
        view.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        view.append([f"m{i}" for i in range(100)], partial="half a li")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y
        assert len(view.complete_lines) == 50 and view.lines[-1] == "half a li"
        view.append([], partial="\x1b[31mred")
        assert view.lines[-1] == "\ufffd[31mred"  # escape codes are shown, never interpreted


def test_state_records_events_and_hands_them_over_once(tmp_path) -> None:  # noqa: ANN001
    engine = demo_engine(tmp_path)
    state = PipelineState(engine.snapshot())
    engine.subscribe(state.apply)
    run = engine.runs[("model=cnn,seed=2", "train")]
    for priority in range(1000):  # a burst on one row is one dirty row
        engine.emit(EventKind.RUN, run=dataclasses.replace(run, priority=priority), stage=engine.stages["train"])
    engine.emit(EventKind.MESSAGE, message="boom", level="error")
    changes = state.take()
    assert changes.runs == {"train": {"model=cnn,seed=2"}} and changes.stages == {"train"}
    assert state.run("train", "model=cnn,seed=2").priority == 999
    assert [m.message for m in changes.messages] == ["boom"]
    assert not state.take()
    assert not state.pending


def test_bars_and_etas() -> None:
    assert bar(0.0, 4) == "░░░░" and bar(1.0, 4) == "████" and bar(0.5, 4) == "██░░"
    assert len(bar(0.33, 10)) == 10
    view = StageView(
        "s", 0, 2, False, {"queued": 4, "running": 2, "done": 0, "failed": 0, "skipped": 0, "cancelled": 0}, 10.0
    )
    assert stage_eta(view, 6) == 30.0  # 6 left, 2 at a time, 10 s each
    assert stage_eta(dataclasses.replace(view, paused=True), 6) is None
    assert pipeline_eta([view, dataclasses.replace(view, mean_duration=None)], 6) is None


def test_key_table_for_the_readme_lists_every_key() -> None:
    table = markdown_table()
    for key in KEYS:
        assert key.help in table


def test_the_readme_has_the_current_key_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme, "regenerate the README's key table: coopy_tui.keys.markdown_table()"


def test_state_takes_run_changes_delivered_after_a_message_numbered_later(tmp_path) -> None:  # noqa: ANN001
    """While the store fails, the engine says so at once (a message numbered after the run changes that wait
    for their commit) and delivers those changes once the store is back: the screen must still show them
    (it dropped them, and showed stale states until restarted)."""
    engine = demo_engine(tmp_path)
    snapshot = engine.snapshot()
    state = PipelineState(snapshot)
    run = engine.runs[("model=cnn,seed=2", "train")]
    at = snapshot.seq
    state.apply(Event(seq=at + 3, kind=EventKind.MESSAGE, time=0.0, message="store back", level="info"))
    state.apply(Event(seq=at + 1, kind=EventKind.RUN, time=0.0, run=dataclasses.replace(run, state=RunState.DONE)))
    state.apply(Event(seq=at, kind=EventKind.RUN, time=0.0, run=dataclasses.replace(run, state=RunState.FAILED)))
    assert state.run("train", "model=cnn,seed=2").state == RunState.DONE  # the one in the snapshot is not redone
    assert "model=cnn,seed=2" in state.take().runs["train"]
