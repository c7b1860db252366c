"""`coopy run`'s live lines: a stage whose waiting runs wait on a paused stage (directly or further up) gives
no ETA from its rate (it would stand still until the resume) and says what it waits for."""

from __future__ import annotations

from coopy_core.cli.progress import paused_upstream, stage_line
from coopy_core.model import RunState, StageView


def view(name: str, index: int, needs: tuple[str, ...] = (), paused: bool = False, **counts: int) -> StageView:
    full = {s.value: 0 for s in RunState} | counts
    return StageView(name, index, 2, paused, full, total=sum(full.values()), needs=needs)


def test_what_waits_on_a_paused_stage_says_so_and_gives_no_eta() -> None:
    prepare = view("prepare", 0, done=10)
    train = view("train", 1, ("prepare",), paused=True, done=4, queued=6)
    evaluate = view("evaluate", 2, ("train",), done=4, queued=2, waiting=4)
    report = view("report", 3, ("evaluate",), waiting=1)
    held = paused_upstream([prepare, train, evaluate, report])
    assert held == {"prepare": (), "train": (), "evaluate": ("train",), "report": ("train",)}
    line = stage_line(evaluate, 60.0, held_by=held["evaluate"])
    assert "4.0/min" in line and "ETA" not in line, line  # was `ETA 1m30s`, standing still
    assert line.endswith("waits for train (paused)"), line
    assert "ETA 1m30s" in stage_line(evaluate, 60.0), "without the pause: 6 left at 4/min"


def test_a_paused_stage_with_nothing_left_holds_nothing() -> None:
    train = view("train", 0, paused=True, done=10)
    evaluate = view("evaluate", 1, ("train",), done=4, queued=2, waiting=4)
    assert paused_upstream([train, evaluate])["evaluate"] == ()
