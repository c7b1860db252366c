"""PipelineState: records engine events and hands each change over once, in order."""

from __future__ import annotations

import dataclasses

from coopy_core.model import Event, EventKind, RunState
from coopy_tui.state import PipelineState
from tests.helpers.tui import demo_engine


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
