"""No two attempts of one run are ever alive at once, and nothing of a run outlives its end: whatever ends an
attempt (its exit, a lost wrapper, a timeout, a cancel, a Detector's verdict), what is left of its process group
and every process carrying its COOPY_RUN_ID is stopped before the next attempt or the next stage starts.

The commands are `marker_step.py`: each start checks /proc itself and writes an `overlap` line when a process of
another attempt of its run, or of a run it needs, is still alive."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from coopy_core import RunState
from tests.helpers.cli import coopy, coopy_popen, status
from tests.helpers.engine import EngineFactory, run_of, wait_finished, wait_state, wait_until, write_config
from tests.helpers.marks import of_kind, read_marks, starts, step_argv
from tests.helpers.processes import describe, kill_all, processes_mentioning, wait_gone
from tests.helpers.waiting import poll


@pytest.fixture(autouse=True)
def _no_strays(tmp_path: Path) -> Iterator[None]:
    """A failed assertion must not leave a test's processes running."""
    yield
    kill_all(processes_mentioning(str(tmp_path), environ=True))


def _run_prefix(tmp: Path, stage: str, run: str) -> str:
    return f"COOPY_RUN_ID={tmp / '.coopy'}:{stage}/{run}/"


def _leftovers(tmp: Path, stage: str, run: str) -> list[int]:
    return processes_mentioning(_run_prefix(tmp, stage, run), environ=True)


@pytest.mark.parametrize("ignore_term", [False, True], ids=["stops-on-term", "ignores-term"])
async def test_wrapper_killed_alone_the_retry_waits_for_the_old_command(
    tmp_path: Path, start_engine: EngineFactory, ignore_term: bool
) -> None:
    """The exit-status wrapper is killed and its command lives on: the attempt fails, and its retry starts only
    once that command is gone (before: at once, while attempt 1 still ran)."""
    marks = tmp_path / "marks"
    first = ["--seconds", "4"] + (["--ignore-term"] if ignore_term else [])
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        t = {{ n = 1 }}
        [[stages]]
        name = "s"
        retries = 1
        backoff = 0
        command = {step_argv(marks, *first)}
        [[stages]]
        name = "next"
        command = {step_argv(marks, "--upstream", "s")}
        """,
    )
    engine = await start_engine(cfg)
    run = await wait_state(engine, "t", "s", RunState.RUNNING)
    await wait_until(lambda: of_kind(read_marks(marks), "start"), "attempt 1 to start")
    assert run.pid
    os.kill(run.pid, signal.SIGKILL)  # the wrapper alone: the command lives on in the process group
    assert await wait_finished(engine, timeout=60)
    found = read_marks(marks)
    assert of_kind(found, "overlap") == [], "an attempt started while an earlier one was alive"
    assert starts(found) == {("s", "t"): 2, ("next", "t"): 1}
    assert [m.attempt for m in of_kind(found, "end") if m.stage == "s"] == [2], "attempt 1 was stopped"
    failed = [a for a in engine.store.attempts() if a[1] == "s" and a[2] == 1]
    assert failed and "without an exit status" in failed[0][5]
    assert _leftovers(tmp_path, "s", "t") == []


async def test_escaped_processes_are_stopped_at_a_timeout(tmp_path: Path, start_engine: EngineFactory) -> None:
    marks = tmp_path / "marks"
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        t = {{ n = 1 }}
        [[stages]]
        name = "s"
        timeout = 1
        command = {step_argv(marks, "--escape", "60", "--seconds", "60")}
        """,
    )
    engine = await start_engine(cfg)
    await wait_until(lambda: len(_leftovers(tmp_path, "s", "t")) >= 4, "the step and its escaped sleep")
    failed = await wait_state(engine, "t", "s", RunState.FAILED)
    assert "timed out" in failed.reason
    assert _leftovers(tmp_path, "s", "t") == [], f"left: {describe(_leftovers(tmp_path, 's', 't'))}"


async def test_escaped_processes_are_stopped_at_a_cancel(tmp_path: Path, start_engine: EngineFactory) -> None:
    marks = tmp_path / "marks"
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        t = {{ n = 1 }}
        [[stages]]
        name = "s"
        command = {step_argv(marks, "--escape", "60", "--seconds", "60")}
        """,
    )
    engine = await start_engine(cfg)
    await wait_until(lambda: len(_leftovers(tmp_path, "s", "t")) >= 4, "the step and its escaped sleep")
    engine.cancel("t", "s")
    await wait_state(engine, "t", "s", RunState.CANCELLED)
    assert _leftovers(tmp_path, "s", "t") == [], f"left: {describe(_leftovers(tmp_path, 's', 't'))}"


async def test_what_a_finished_command_left_behind_is_gone_before_the_next_stage(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    """Exit 0 with an escaped process still running: the run is done only once it is gone, so the next stage
    never runs beside it."""
    marks = tmp_path / "marks"
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        a = {{ n = 1 }}
        b = {{ n = 2 }}
        [[stages]]
        name = "s"
        workers = 2
        command = {step_argv(marks, "--escape", "60")}
        [[stages]]
        name = "next"
        command = {step_argv(marks, "--upstream", "s")}
        [[stages]]
        name = "all"
        over = []
        command = {step_argv(marks, "--upstream-any", "s", "--upstream-any", "next")}
        """,
    )
    engine = await start_engine(cfg)
    assert await wait_finished(engine, timeout=60)
    found = read_marks(marks)
    assert of_kind(found, "overlap") == []
    assert starts(found) == {("s", "a"): 1, ("s", "b"): 1, ("next", "a"): 1, ("next", "b"): 1, ("all", "all"): 1}
    for task in ("a", "b"):
        assert _leftovers(tmp_path, "s", task) == []


DETECTOR = """
from coopy_core import Detector, Status, Verdict

class Enough(Detector):
    polls = True
    def check(self, ctx):
        if ctx.exit_code is None and ctx.elapsed > 0.5:
            return Verdict(Status.FAILED, "enough of that")
        return super().check(ctx)
"""


async def test_a_detector_verdict_stops_the_run_and_what_escaped(tmp_path: Path, start_engine: EngineFactory) -> None:
    (tmp_path / "verdicts.py").write_text(DETECTOR)
    marks = tmp_path / "marks"
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        t = {{ n = 1 }}
        [[stages]]
        name = "s"
        retries = 1
        backoff = 0
        detector = "verdicts:Enough"
        command = {step_argv(marks, "--escape", "60", "--seconds", "60", "--ignore-term")}
        """,
    )
    engine = await start_engine(cfg)
    assert not await wait_finished(engine, timeout=60)
    run = run_of(engine, "t", "s")
    assert run is not None and (run.state, run.attempt, run.reason) == (RunState.FAILED, 2, "enough of that")
    found = read_marks(marks)
    assert of_kind(found, "overlap") == []
    assert starts(found) == {("s", "t"): 2}
    await wait_gone(lambda: _leftovers(tmp_path, "s", "t"), "the run the detector failed", timeout=2)


def _restart_config(tmp: Path, marks: Path) -> Path:
    return write_config(
        tmp,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        t = {{ n = 1 }}
        [[stages]]
        name = "s"
        retries = 1
        backoff = 0
        command = {step_argv(marks, "--seconds", "4")}
        """,
    )


@pytest.mark.parametrize("handle_saved", [True, False], ids=["handle-saved", "crashed-before-the-handle"])
def test_wrapper_killed_while_no_engine_runs_the_restart_waits_for_the_old_command(
    tmp_path: Path, handle_saved: bool
) -> None:
    """The engine is killed, then the wrapper alone; the next engine finds the attempt lost (or, when the crash
    came before its handle was saved, finds it by its run id) and starts the retry only once the command is gone."""
    marks = tmp_path / "marks"
    cfg = _restart_config(tmp_path, marks)
    engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=tmp_path / "out1")
    try:
        poll(lambda: of_kind(read_marks(marks), "start"), 30, "attempt 1 to start", interval=0.02)
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)
    finally:
        if engine.poll() is None:
            engine.kill()
    wrapper = next(r["pid"] for r in status(cfg)["runs"] if r["stage"] == "s")
    os.kill(wrapper, signal.SIGKILL)
    if not handle_saved:
        with contextlib.closing(sqlite3.connect(tmp_path / ".coopy" / "state.sqlite")) as db, db:
            db.execute("UPDATE runs SET handle = NULL WHERE stage = 's'")
    again = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.stderr
    found = read_marks(marks)
    assert of_kind(found, "overlap") == [], "the retry started while attempt 1's command was alive"
    assert starts(found) == {("s", "t"): 2}
    assert [m.attempt for m in of_kind(found, "end")] == [2]
    assert _leftovers(tmp_path, "s", "t") == []
