"""`coopy run` with its output not a terminal prints one line per run's start and end, and one per run
skipped or blocked, including those the start itself settles: the lines a log of a run is read for."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from coopy_core.cli.progress import ProgressPrinter
from coopy_core.model import EventKind, RunState, RunView
from coopy_core.state.journal import Events
from tests.helpers.cli import coopy
from tests.helpers.engine import make_and_use


def test_one_line_per_start_end_skip_and_block(tmp_path: Path) -> None:
    make_and_use(tmp_path, fails="x=3")  # out/x=1.txt made before: skipped by the start, never run
    run = coopy("run", "coopy.toml", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    lines = [ln for ln in run.stdout.splitlines() if not ln.startswith(("make ", "use "))]  # not the summary
    said = Counter(" ".join(ln.split()[:3]) for ln in lines if not ln.startswith(("error:", "warning:")))
    assert said == Counter(
        {
            "skipped make x=1": 1,
            "running make x=2": 1,
            "done make x=2": 1,
            "running make x=3": 1,
            "running use x=1": 1,
            "done use x=1": 1,
            "running use x=2": 1,
            "done use x=2": 1,
            "blocked use x=3": 1,
        }
    ), run.stdout
    assert "skipped   make x=1 attempt 0 0.0s (outputs already exist)" in lines
    assert "blocked   use x=3 (waits on make/x=3, which failed)" in lines


def test_a_run_that_comes_back_to_a_state_is_a_line_again() -> None:
    """Blocked, unblocked by a retry upstream, blocked again: two lines; cancelled, retried before it started,
    cancelled again: two lines (the printer hears every state it needs to know a run moved on)."""
    events = Events(lambda: 0.0)
    out = io.StringIO()

    class Engine:  # what the printer asks of the engine: its event stream and its stages (none here)
        config = SimpleNamespace(stages=[])

        def subscribe(self, callback: Any, kinds: Any = None, run_states: Any = None) -> Any:
            return events.subscribe(callback, kinds, run_states)

        def held_stages(self) -> list[str]:
            return []

    printer = ProgressPrinter(Engine(), out, live=False)  # type: ignore[arg-type]
    printer.start()

    def moved(state: RunState, reason: str = "") -> None:
        view = RunView(task="x=1", stage="b", attempt=0, state=state, priority=0, reason=reason)
        events.deliver(events.make(EventKind.RUN, run=view))

    for state in (RunState.BLOCKED, RunState.WAITING, RunState.BLOCKED):
        moved(state, "waits on a/x=1, which failed" if state == RunState.BLOCKED else "")
    for state in (RunState.CANCELLED, RunState.QUEUED, RunState.CANCELLED, RunState.CANCELLED):
        moved(state)  # the last one: news of the same cancelled run (a priority), not a line
    lines = out.getvalue().splitlines()
    assert lines.count("blocked   b x=1 (waits on a/x=1, which failed)") == 2, lines
    assert sum(line.startswith("cancelled b x=1") for line in lines) == 2, lines
