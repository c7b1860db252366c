"""The engine's queue and every command, on real processes held at a gate file.

A run's command waits until `gates/<task>` (or `gate`) exists, so the test decides
when each run ends; the order runs really start in is read back from a file the
commands append to.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coopy_core import CommandError, Event, EventKind, RunState
from tests.helpers.engine import (
    EngineFactory,
    run_of,
    stage_of,
    state_of,
    wait_finished,
    wait_state,
    wait_until,
    write_config,
)
from tests.helpers.processes import session_members, wait_gone

# waits for gates/<task>, logging its start to started.txt
GATED = '["sh", "-c", "echo \\"$1\\" >> started.txt; until [ -e \\"gates/$1\\" ]; do sleep 0.05; done", "sh", "{task}"]'


def open_gate(tmp: Path, *tasks: str) -> None:
    for task in tasks:
        (tmp / "gates" / task).touch()


def started(tmp: Path) -> list[str]:
    path = tmp / "started.txt"
    return path.read_text().split() if path.exists() else []


def gated_config(tmp: Path, tasks: list[str], workers: int, extra_stage: str = "") -> Path:
    (tmp / "gates").mkdir()
    named = "\n".join(f"{t} = {{ n = {i} }}" for i, t in enumerate(tasks))
    return write_config(
        tmp,
        f"""
        [pipeline]
        name = "commands"
        poll_interval = 30

        [tasks.named]
        {named}

        [[stages]]
        name = "s"
        workers = {workers}
        command = {GATED}
        {extra_stage}
        """,
    )


async def test_queue_order_bump_lower_top(tmp_path: Path, start_engine: EngineFactory) -> None:
    tasks = ["t0", "t1", "t2", "t3", "t4"]
    after = """
        [[stages]]
        name = "after"
        priority = 5
        command = ["true"]
    """
    engine = await start_engine(gated_config(tmp_path, tasks, workers=1, extra_stage=after))
    await wait_state(engine, "t0", "s", RunState.RUNNING)
    # first come, first served at equal priority
    assert engine.queue_order("s") == ["t1", "t2", "t3", "t4"]

    assert engine.bump("t3", "s") == 1
    assert engine.queue_order("s") == ["t3", "t1", "t2", "t4"]
    assert engine.bump("t1", "s", -1) == -1  # lower
    assert engine.queue_order("s") == ["t3", "t2", "t4", "t1"]
    assert engine.top("t4", "s") == 2
    assert engine.queue_order("s") == ["t4", "t3", "t2", "t1"]
    assert engine.top("t4", "s") == 2  # already first: unchanged
    run = run_of(engine, "t4", "s")
    assert run is not None and run.priority == 2

    with pytest.raises(CommandError):
        engine.bump("t0", "s")  # running: no place in the line
    with pytest.raises(CommandError):
        engine.bump("nope", "s")
    with pytest.raises(CommandError):
        engine.top("t1", "nostage")

    open_gate(tmp_path, *tasks)
    assert await wait_finished(engine)
    assert started(tmp_path) == ["t0", "t4", "t3", "t2", "t1"]
    # a configuration bumped upstream keeps its lead downstream (stage default priority 5)
    priorities = {r.task: r.priority for r in engine.snapshot().runs if r.stage == "after"}
    assert priorities == {"t0": 5, "t1": 4, "t2": 5, "t3": 6, "t4": 7}


async def test_pause_resume(tmp_path: Path, start_engine: EngineFactory) -> None:
    tasks = ["t0", "t1", "t2", "t3"]
    engine = await start_engine(gated_config(tmp_path, tasks, workers=2))
    await wait_state(engine, "t1", "s", RunState.RUNNING)
    engine.pause("s")
    assert stage_of(engine, "s").paused
    started_while_paused: list[str] = []

    def on_event(event: Event) -> None:
        if event.kind == EventKind.RUN and event.run and event.run.state == RunState.RUNNING:
            started_while_paused.append(event.run.task)

    unsubscribe = engine.subscribe(on_event)
    open_gate(tmp_path, *tasks)
    # running ones continue and finish normally while the stage is paused
    for task in ("t0", "t1"):
        run = await wait_state(engine, task, "s", RunState.DONE)
        assert run.exit_code == 0
    await asyncio.sleep(0.5)  # a moment in which the engine could (wrongly) start more
    unsubscribe()
    assert started_while_paused == []
    view = stage_of(engine, "s")
    assert (view.counts["queued"], view.counts["running"]) == (2, 0)
    assert not engine.snapshot().finished

    engine.resume("s")
    view = stage_of(engine, "s")
    assert not view.paused
    assert view.counts["running"] == 2  # resuming starts at once
    assert await wait_finished(engine)
    order = started(tmp_path)  # runs started together may write in either order
    assert sorted(order[:2]) == ["t0", "t1"] and sorted(order[2:]) == ["t2", "t3"]
    assert engine.toggle_pause("s") is True
    assert engine.toggle_pause("s") is False


async def test_set_workers_at_run_time(tmp_path: Path, start_engine: EngineFactory) -> None:
    tasks = [f"t{i}" for i in range(6)]
    engine = await start_engine(gated_config(tmp_path, tasks, workers=1))
    await wait_state(engine, "t0", "s", RunState.RUNNING)
    assert stage_of(engine, "s").counts["running"] == 1

    engine.set_workers("s", 4)  # raising starts more at once
    view = stage_of(engine, "s")
    assert view.workers == 4
    assert view.counts["running"] == 4
    running = [r for r in engine.snapshot().runs if r.state == RunState.RUNNING]
    assert sorted(r.task for r in running) == ["t0", "t1", "t2", "t3"]
    assert all(r.pid for r in running)
    await wait_until(lambda: len(started(tmp_path)) == 4, "4 commands really started")

    engine.set_workers("s", 1)  # lowering lets running ones finish
    view = stage_of(engine, "s")
    assert (view.workers, view.counts["running"], view.counts["queued"]) == (1, 4, 2)
    open_gate(tmp_path, "t0", "t1", "t2")
    for task in ("t0", "t1", "t2"):
        assert (await wait_state(engine, task, "s", RunState.DONE)).exit_code == 0
    view = stage_of(engine, "s")
    assert (view.counts["running"], view.counts["queued"]) == (1, 2)  # t3 still over the new cap
    open_gate(tmp_path, "t3")
    await wait_state(engine, "t4", "s", RunState.RUNNING)
    assert stage_of(engine, "s").counts["running"] == 1
    open_gate(tmp_path, "t4", "t5")
    assert await wait_finished(engine)
    order = started(tmp_path)  # runs started together may write in either order
    assert sorted(order[:4]) == ["t0", "t1", "t2", "t3"] and order[4:] == ["t4", "t5"]

    for bad in (0, -1):
        with pytest.raises(CommandError):
            engine.set_workers("s", bad)
    with pytest.raises(CommandError):
        engine.set_workers("nostage", 2)


async def test_retry_failed_and_cancelled(tmp_path: Path, start_engine: EngineFactory) -> None:
    # fails (exit 3) unless ok-<task> exists; the "hang" task sleeps first so it can be cancelled
    command = (
        '["sh", "-c", "echo attempt $COOPY_ATTEMPT; [ -e ok-$1 ] && exit 0; '
        '[ $2 = hang ] && sleep 300; exit 3", "sh", "{task}", "{mode}"]'
    )
    path = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 30

        [tasks.named]
        f = {{ mode = "fail" }}
        h = {{ mode = "hang" }}

        [[stages]]
        name = "a"
        workers = 2
        command = {command}

        [[stages]]
        name = "b"
        command = ["true"]
        """,
    )
    engine = await start_engine(path)
    failed = await wait_state(engine, "f", "a", RunState.FAILED)
    assert (failed.attempt, failed.exit_code) == (1, 3)
    assert "exit code 3" in failed.reason
    running = await wait_state(engine, "h", "a", RunState.RUNNING)
    assert running.pid
    await wait_until(lambda: len(session_members(running.pid or 0)) >= 2, "the sleep to start")
    engine.cancel("h", "a")
    cancelled = await wait_state(engine, "h", "a", RunState.CANCELLED)
    assert cancelled.attempt == 1
    await wait_gone(lambda: session_members(running.pid or 0), "the cancelled run")
    assert await wait_finished(engine) is False
    for task, how in (("f", "failed"), ("h", "was cancelled")):
        blocked = run_of(engine, task, "b")
        assert blocked is not None and blocked.state == RunState.BLOCKED and blocked.attempt == 0
        assert blocked.reason == f"waits on a/{task}, which {how}"

    with pytest.raises(CommandError):
        engine.retry("f", "b")  # never reached stage b
    (tmp_path / "ok-f").touch()
    (tmp_path / "ok-h").touch()
    engine.retry("f", "a")
    engine.retry("h", "a")
    assert not engine.snapshot().finished
    assert await wait_finished(engine) is True
    for task in ("f", "h"):
        run = run_of(engine, task, "a")
        assert run is not None and (run.state, run.attempt, run.exit_code) == (RunState.DONE, 2, 0)
        assert Path(run.log).name == f"{task}.2.log"
        assert state_of(engine, task, "b") == RunState.DONE
    with pytest.raises(CommandError):
        engine.retry("f", "a")  # done: nothing to retry


async def test_cancel_queued_and_running(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 30

        [tasks.named]
        r = { n = 1 }
        q = { n = 2 }
        k = { n = 3 }

        [[stages]]
        name = "s"
        workers = 1
        command = ["sh", "-c", "echo $1 >> started.txt; sleep 300", "sh", "{task}"]

        [[stages]]
        name = "next"
        command = ["true"]
        """,
    )
    engine = await start_engine(path)
    running = await wait_state(engine, "r", "s", RunState.RUNNING)
    assert engine.queue_order("s") == ["q", "k"]

    engine.cancel("q", "s")  # queued: leaves the line, never starts
    cancelled = run_of(engine, "q", "s")
    assert cancelled is not None and (cancelled.state, cancelled.attempt) == (RunState.CANCELLED, 0)
    assert engine.queue_order("s") == ["k"]

    await wait_until(lambda: "r" in started(tmp_path), "r's command to start")
    engine.cancel("r", "s")  # running: its process group is stopped
    await wait_state(engine, "r", "s", RunState.CANCELLED)
    await wait_gone(lambda: session_members(running.pid or 0), "the cancelled run")
    k = await wait_state(engine, "k", "s", RunState.RUNNING)  # the freed worker goes to the next
    await wait_until(lambda: "k" in started(tmp_path), "k's command to start")
    engine.cancel("k", "s")
    await wait_state(engine, "k", "s", RunState.CANCELLED)
    assert await wait_finished(engine) is False
    handed = {r.task: r.state for r in engine.snapshot().runs if r.stage == "next"}
    assert handed == {"q": RunState.BLOCKED, "r": RunState.BLOCKED, "k": RunState.BLOCKED}  # nothing handed on
    await wait_gone(lambda: session_members(k.pid or 0), "the cancelled run")
    assert sorted(started(tmp_path)) == ["k", "r"]
    with pytest.raises(CommandError):
        engine.cancel("q", "s")  # already cancelled


async def test_add_task_while_running(tmp_path: Path, start_engine: EngineFactory) -> None:
    after = """
        [[stages]]
        name = "after"
        command = ["sh", "-c", "echo $1 $2 >> after.txt", "sh", "{task}", "{n}"]
    """
    engine = await start_engine(gated_config(tmp_path, ["t0"], workers=1, extra_stage=after))
    await wait_state(engine, "t0", "s", RunState.RUNNING)
    assert engine.add_task({"n": 7}, name="late") == "late"
    assert "late" in engine.snapshot().tasks
    assert state_of(engine, "late", "s") == RunState.QUEUED
    assert engine.add_task({"n": 8}) == "n=8"  # a readable name from the params
    with pytest.raises(CommandError):
        engine.add_task({"n": 9}, name="late")  # duplicate
    with pytest.raises(CommandError):
        engine.add_task({"m": 1}, name="no-n")  # the stage needs {n}
    with pytest.raises(CommandError):
        engine.add_task({"n": 1}, name="bad name")
    with pytest.raises(CommandError, match="reserved"):
        engine.add_task({"n": 1, "task": "other"}, name="shadow")  # {task} is the built-in
    assert "shadow" not in engine.snapshot().tasks
    open_gate(tmp_path, "t0", "late", "n=8")
    assert await wait_finished(engine)
    assert sorted((tmp_path / "after.txt").read_text().splitlines()) == ["late 7", "n=8 8", "t0 0"]


async def test_a_screen_that_attaches_later_gets_what_happens_after_and_only_the_kinds_it_asked_for(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    """Nobody listens while the engine starts (its runs' events are only numbered then); a screen attached
    afterwards gets every later event, numbered after the snapshot it read, and only of its kinds."""
    engine = await start_engine(gated_config(tmp_path, ["t0", "t1", "t2"], workers=1))
    await wait_state(engine, "t0", "s", RunState.RUNNING)
    seen_at = engine.snapshot().seq
    assert seen_at > 0  # the start's events were numbered though nobody heard them
    stages: list[Event] = []
    every: list[Event] = []
    engine.subscribe(stages.append, frozenset({EventKind.STAGE}))
    engine.subscribe(every.append)
    engine.pause("s")
    open_gate(tmp_path, "t0")
    await wait_state(engine, "t0", "s", RunState.DONE)
    engine.resume("s")
    await wait_state(engine, "t1", "s", RunState.RUNNING)
    await wait_until(  # the turn's events are delivered after its commit
        lambda: any(e.run and (e.run.task, e.run.state) == ("t1", RunState.RUNNING) for e in every), "t1's start heard"
    )

    assert [e.kind for e in stages] == [EventKind.STAGE, EventKind.STAGE]
    assert [e.stage.paused for e in stages if e.stage] == [True, False]
    seqs = [e.seq for e in every]
    assert seqs == sorted(set(seqs)) and seqs[0] > seen_at
    ran = [(e.run.task, e.run.state) for e in every if e.kind == EventKind.RUN and e.run]
    assert ("t0", RunState.DONE) in ran and ("t1", RunState.RUNNING) in ran
    assert all(e.seq in seqs for e in stages)  # one numbering for all
    open_gate(tmp_path, "t1", "t2")
    assert await wait_finished(engine)
