"""What a restarted engine keeps, and how it judges what it re-adopts (each was broken once in the code and left
every suite green):

- a paused stage stays paused across a restart; a worker cap set at run time survives it
- a retry's backoff still holds after a restart; a timeout counts from the attempt's start, not its re-adoption
- an adopted run that vanished without an exit status is lost (a failure), never a success
- a stored pid that now belongs to another process is never taken for the run (its start time is compared)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from coopy_core import Engine, RunState
from tests.helpers.engine import (
    EngineFactory,
    one_stage,
    run_of,
    stage_of,
    wait_finished,
    wait_state,
    wait_until,
)
from tests.helpers.marks import read_marks, starts, step_argv
from tests.helpers.processes import session_members, wait_gone


async def _restart(engine: Engine, start_engine: EngineFactory, cfg: Path) -> Engine:
    """Stop the engine (running commands go on) and start a new one on the same state dir."""
    await engine.shutdown()
    return await start_engine(cfg)


async def test_a_paused_stage_stays_paused_after_a_restart(tmp_path: Path, start_engine: EngineFactory) -> None:
    marks = tmp_path / "marks"
    cfg = one_stage(tmp_path, step_argv(marks, "--seconds", "0.3"), "workers = 1", tasks=3)
    engine = await start_engine(cfg)
    engine.pause("s")  # one run started with the engine; two wait
    engine = await _restart(engine, start_engine, cfg)
    assert stage_of(engine, "s").paused
    await asyncio.sleep(1.0)
    assert sum(starts(read_marks(marks)).values()) == 1, "a paused stage started a run after the restart"
    engine.resume("s")
    assert await wait_finished(engine)
    assert sum(starts(read_marks(marks)).values()) == 3


async def test_a_worker_cap_set_at_run_time_survives_a_restart(tmp_path: Path, start_engine: EngineFactory) -> None:
    cfg = one_stage(tmp_path, '["sleep", "30"]', "workers = 1", tasks=4)
    engine = await start_engine(cfg)
    engine.set_workers("s", 3)
    await wait_until(lambda: stage_of(engine, "s").running == 3, "three running")
    await engine.shutdown(stop_running=True)
    engine = await start_engine(cfg)
    assert stage_of(engine, "s").workers == 3
    await wait_until(lambda: stage_of(engine, "s").running == 3, "three running again after the restart")


async def test_a_retry_backoff_holds_across_a_restart(tmp_path: Path, start_engine: EngineFactory) -> None:
    marks = tmp_path / "marks"
    cfg = one_stage(tmp_path, step_argv(marks, "--fail-attempts", "1"), "retries = 1\nbackoff = 3")
    engine = await start_engine(cfg)
    await wait_until(
        lambda: (r := run_of(engine, "i=0", "s")) is not None and r.state == RunState.QUEUED and r.attempt == 1,
        "attempt 1 to fail and wait for its retry",
    )
    failed_at = time.time()
    engine = await _restart(engine, start_engine, cfg)
    assert await wait_finished(engine)
    attempts = {a[2]: a for a in engine.store.attempts() if a[1] == "s"}
    run = run_of(engine, "i=0", "s")
    assert run is not None and run.attempt == 2 and run.started_at is not None
    assert run.started_at - attempts[1][7] >= 3.0, "the retry started before its backoff was over"
    assert run.started_at >= failed_at + 2.5


async def test_a_timeout_counts_from_the_start_not_from_the_readoption(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    cfg = one_stage(tmp_path, '["sleep", "30"]', "timeout = 3")
    engine = await start_engine(cfg)
    await wait_state(engine, "i=0", "s", RunState.RUNNING)
    await asyncio.sleep(2.0)  # the scenario: 2 s of its 3 are gone when the next engine adopts it
    engine = await _restart(engine, start_engine, cfg)
    adopted = time.time()  # the re-adoption was before this (however long the restart took on a busy machine)
    failed = await wait_state(engine, "i=0", "s", RunState.FAILED, timeout=15)
    assert "timed out after 3s" in failed.reason
    assert failed.started_at is not None and failed.ended_at is not None
    due = max(failed.started_at + 3, adopted)  # 3 s after its start, or at once if that is past at the adoption
    assert failed.ended_at < due + 1.5, "the timeout's clock started again at the re-adoption"


async def test_an_adopted_run_that_vanished_without_a_status_is_lost(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    cfg = one_stage(tmp_path, '["sleep", "30"]')
    engine = await start_engine(cfg)
    running = await wait_state(engine, "i=0", "s", RunState.RUNNING)
    await engine.shutdown()
    assert running.pid
    os.killpg(running.pid, signal.SIGKILL)  # wrapper and command at once: no exit status is written
    await wait_gone(lambda: session_members(running.pid or 0), "the killed run")
    engine = await start_engine(cfg)
    failed = await wait_state(engine, "i=0", "s", RunState.FAILED)
    assert "lost" in failed.reason and failed.exit_code is None


async def test_a_reused_pid_is_never_taken_for_the_run(tmp_path: Path, start_engine: EngineFactory) -> None:
    """The run's wrapper dies while no engine runs and its pid goes to another process (made here by pointing the
    stored handle at one: a real reuse cannot be forced): the next engine finds the run lost, and leaves that
    process alone."""
    cfg = one_stage(tmp_path, '["sleep", "30"]')
    engine = await start_engine(cfg)
    running = await wait_state(engine, "i=0", "s", RunState.RUNNING)
    await asyncio.sleep(0.1)  # start times count in clock ticks (10 ms): a reuse is never within one
    await engine.shutdown()
    os.killpg(running.pid or 0, signal.SIGKILL)
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)  # a session leader, like a wrapper
    try:
        with contextlib.closing(sqlite3.connect(tmp_path / ".coopy" / "state.sqlite")) as db, db:
            (text,) = db.execute("SELECT handle FROM runs WHERE stage = 's'").fetchone()
            handle = json.loads(text)
            handle["pid"] = other.pid  # the start time stays the wrapper's
            db.execute("UPDATE runs SET handle = ? WHERE stage = 's'", (json.dumps(handle),))
        engine = await start_engine(cfg)
        failed = await wait_state(engine, "i=0", "s", RunState.FAILED, timeout=10)
        assert "lost" in failed.reason
        await asyncio.sleep(0.5)
        assert other.poll() is None, "the engine stopped a process that is not the run's"
    finally:
        other.kill()
        other.wait()
