"""Retries with exponential backoff, numbered attempts with a log each, timeouts, and
cancellation that takes down the whole process tree (checked in /proc by session id)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from coopy_core import Event, EventKind, RunState
from tests.helpers.engine import EngineFactory, run_of, wait_finished, wait_state, wait_until, write_config
from tests.helpers.processes import session_members, wait_gone

TREE = "sleep 300 & sleep 300 & wait"  # a command whose grandchildren outlive a killed parent


async def test_retry_backoff_attempts_and_logs(tmp_path: Path, start_engine: EngineFactory) -> None:
    backoff = 0.4
    path = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 30
        log_dir = "logs"

        [tasks.named]
        flaky = {{ n = 1 }}
        broken = {{ n = 2 }}

        [[stages]]
        name = "s"
        workers = 2
        retries = 2
        backoff = {backoff}
        # flaky fails twice then passes; broken always fails
        command = [
            "sh", "-c", "echo \\"attempt $1 of $2\\"; [ $2 = flaky ] && [ $1 -ge 3 ] && exit 0; exit 5",
            "sh", "{{attempt}}", "{{task}}",
        ]

        [[stages]]
        name = "next"
        command = ["true"]
        """,
    )
    events: list[Event] = []
    engine = await start_engine(path, events.append)
    assert await wait_finished(engine) is False

    for task, final in (("flaky", RunState.DONE), ("broken", RunState.FAILED)):
        run = run_of(engine, task, "s")
        assert run is not None
        assert (run.state, run.attempt) == (final, 3)
        assert run.exit_code == (0 if final == RunState.DONE else 5)
        starts: dict[int, float] = {}
        ends: dict[int, float] = {}
        planned: dict[int, float] = {}  # attempt -> the backoff the engine scheduled after it
        for e in events:
            if e.kind != EventKind.RUN or e.run is None or e.run.task != task or e.run.stage != "s":
                continue
            if e.run.state == RunState.RUNNING and e.run.started_at is not None:
                starts.setdefault(e.run.attempt, e.run.started_at)
            if e.run.ended_at is not None and e.run.state in (RunState.QUEUED, RunState.FAILED, RunState.DONE):
                ends[e.run.attempt] = e.run.ended_at
            if e.run.state == RunState.QUEUED and e.run.not_before is not None and e.run.ended_at is not None:
                planned[e.run.attempt] = e.run.not_before - e.run.ended_at
        assert sorted(starts) == [1, 2, 3]  # attempts numbered 1, 2, 3
        assert planned == {1: pytest.approx(backoff), 2: pytest.approx(2 * backoff)}  # exponential
        for attempt in (1, 2):
            wait = starts[attempt + 1] - ends[attempt]
            assert wait >= backoff * 2 ** (attempt - 1), f"attempt {attempt + 1} started {wait:.3f}s after"
        for attempt in (1, 2, 3):
            log = tmp_path / "logs" / "s" / f"{task}.{attempt}.log"
            assert log.read_text() == f"attempt {attempt} of {task}\n"
        assert run.log == str(tmp_path / "logs" / "s" / f"{task}.3.log")

    seqs = [e.seq for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # numbered in order, none skipped
    assert run_of(engine, "flaky", "next") is not None
    after = run_of(engine, "broken", "next")  # failed for good: not handed on
    assert after is not None and (after.state, after.attempt) == (RunState.BLOCKED, 0)
    broken = run_of(engine, "broken", "s")
    assert broken is not None and "exit code 5" in broken.reason
    levels = [e.level for e in events if e.kind == EventKind.MESSAGE and "broken" in e.message]
    assert levels == ["warning", "warning", "error"]
    # the journal keeps every attempt
    journal = [(a[0], a[2], a[3]) for a in engine.store.attempts() if a[1] == "s"]
    assert sorted(journal) == sorted(
        [
            ("broken", 1, "failed"),
            ("broken", 2, "failed"),
            ("broken", 3, "failed"),
            ("flaky", 1, "failed"),
            ("flaky", 2, "failed"),
            ("flaky", 3, "done"),
        ]
    )


async def test_cancel_during_backoff(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 30

        [tasks.named]
        b = { n = 1 }

        [[stages]]
        name = "s"
        retries = 3
        backoff = 1
        command = ["sh", "-c", "echo run >> runs.txt; exit 1"]
        """,
    )
    engine = await start_engine(path)
    await wait_until(
        lambda: (r := run_of(engine, "b", "s")) is not None and r.state == RunState.QUEUED and r.attempt == 1,
        "the first failure to be queued for a retry",
    )
    engine.cancel("b", "s")
    run = run_of(engine, "b", "s")
    assert run is not None and run.state == RunState.CANCELLED
    await asyncio.sleep(1.5)  # past the backoff: the retry must not start
    run = run_of(engine, "b", "s")
    assert run is not None and (run.state, run.attempt) == (RunState.CANCELLED, 1)
    assert (tmp_path / "runs.txt").read_text() == "run\n"
    assert engine.snapshot().finished


async def test_timeout_kills_the_group(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 30

        [tasks.named]
        slow = { n = 1 }

        [[stages]]
        name = "s"
        timeout = 1
        command = ["sh", "-c", "sleep 300 & sleep 300 & touch spawned; wait"]
        """,
    )
    engine = await start_engine(path)
    running = await wait_state(engine, "slow", "s", RunState.RUNNING)
    sid = running.pid or 0
    assert sid > 1
    await wait_until(lambda: (tmp_path / "spawned").exists(), "the grandchildren to be spawned")
    failed = await wait_state(engine, "slow", "s", RunState.FAILED)
    assert "timed out" in failed.reason
    assert failed.ended_at is not None and failed.started_at is not None
    assert failed.ended_at - failed.started_at >= 1.0
    await wait_gone(lambda: session_members(sid), "the timed-out run")


def tree_config(tmp: Path, script: str, extra: str = "") -> Path:
    return write_config(
        tmp,
        f"""
        [pipeline]
        poll_interval = 0.2

        [tasks.named]
        t = {{ n = 1 }}

        [[stages]]
        name = "s"
        command = ["sh", "-c", "{script}"]
        {extra}
        """,
    )


async def test_cancel_kills_grandchildren(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await start_engine(tree_config(tmp_path, TREE))
    running = await wait_state(engine, "t", "s", RunState.RUNNING)
    sid = running.pid or 0
    assert sid > 1
    await wait_until(lambda: len(session_members(sid)) >= 4, "wrapper, shell and two sleeps")
    engine.cancel("t", "s")
    run = await wait_state(engine, "t", "s", RunState.CANCELLED)
    assert run.reason == "cancelled by user"
    await wait_gone(lambda: session_members(sid), "the cancelled run")


async def test_cancel_kills_children_that_ignore_sigterm(tmp_path: Path, start_engine: EngineFactory) -> None:
    """SIGTERM first, SIGKILL after the grace period: a TERM-proof tree still goes."""
    engine = await start_engine(tree_config(tmp_path, "trap '' TERM; " + TREE))
    running = await wait_state(engine, "t", "s", RunState.RUNNING)
    sid = running.pid or 0
    await wait_until(lambda: len(session_members(sid)) >= 4, "wrapper, shell and two sleeps")
    engine.cancel("t", "s")
    await wait_state(engine, "t", "s", RunState.CANCELLED)
    await wait_gone(lambda: session_members(sid), "the cancelled run", timeout=15)


async def test_cancelled_tree_dies_even_when_the_engine_stops_at_once(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    """Cancel, then close the engine before the grace period ends (a user quitting the TUI):
    nothing the engine decided to kill may survive it."""
    engine = await start_engine(tree_config(tmp_path, "trap '' TERM; " + TREE))
    running = await wait_state(engine, "t", "s", RunState.RUNNING)
    sid = running.pid or 0
    await wait_until(lambda: len(session_members(sid)) >= 4, "wrapper, shell and two sleeps")
    engine.cancel("t", "s")
    await wait_state(engine, "t", "s", RunState.CANCELLED)
    await engine.shutdown()
    # block the loop on purpose: only what shutdown itself did may count
    deadline = time.monotonic() + 5
    while session_members(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_members(sid) == []


async def test_cancel_while_waiting_for_outputs_kills_leftovers(tmp_path: Path, start_engine: EngineFactory) -> None:
    """The command exited 0 but left a background job behind (that would write the output
    later); cancelling the run must stop that job too."""
    extra = 'done_when = ["out.txt"]'
    engine = await start_engine(tree_config(tmp_path, "(sleep 300; touch out.txt) & exit 0", extra))
    await wait_until(
        lambda: (r := run_of(engine, "t", "s")) is not None and "waiting for output" in r.reason,
        "the run to wait for its output",
    )
    run = run_of(engine, "t", "s")
    assert run is not None and run.state == RunState.RUNNING
    sid = run.pid or 0
    assert session_members(sid), "the background job should still be there"
    engine.cancel("t", "s")
    await wait_state(engine, "t", "s", RunState.CANCELLED)
    await wait_gone(lambda: session_members(sid), "the cancelled run's background job")


async def test_timeout_while_waiting_for_outputs_kills_leftovers(tmp_path: Path, start_engine: EngineFactory) -> None:
    extra = 'done_when = ["out.txt"]\ntimeout = 1'
    engine = await start_engine(tree_config(tmp_path, "(sleep 300; touch out.txt) & exit 0", extra))
    running = await wait_state(engine, "t", "s", RunState.RUNNING)
    sid = running.pid or 0
    failed = await wait_state(engine, "t", "s", RunState.FAILED)
    assert "timed out" in failed.reason
    await wait_gone(lambda: session_members(sid), "the timed-out run's background job")
