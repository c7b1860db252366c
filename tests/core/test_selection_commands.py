"""The engine's commands over many runs (a screen's selection) and the way up from a waiting run, on a real engine:
exactly the runs named change, a run the command does not apply to is left alone, bad input changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from coopy_core import RunState
from coopy_core.commands import CommandError
from coopy_core.engine import Engine
from tests.helpers.engine import EngineFactory, run_of, state_of, wait_state, wait_until, write_config

PIPELINE = """
    [pipeline]
    poll_interval = 0.2
    [tasks.matrix]
    x = [1, 2, 3, 4, 5, 6]
    [[stages]]
    name = "first"
    command = ["sh", "-c", "[ {x} = 6 ] && exit 3; exec sleep 600"]
    workers = 2
    [[stages]]
    name = "second"
    needs = ["first"]
    command = ["sleep", "600"]
    workers = 1
"""


def states(engine: Engine, stage: str = "first") -> dict[str, RunState | None]:
    return {f"x={i}": state_of(engine, f"x={i}", stage) for i in range(1, 7)}


async def running_two(tmp_path: Path, start_engine: EngineFactory) -> Engine:
    engine = await start_engine(write_config(tmp_path, PIPELINE))
    await wait_state(engine, "x=1", "first", RunState.RUNNING)
    await wait_state(engine, "x=2", "first", RunState.RUNNING)
    return engine


async def test_cancel_runs_cancels_exactly_the_runs_named(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await running_two(tmp_path, start_engine)
    n = engine.cancel_runs([["first", "x=1"], ["first", "x=3"], ["first", "x=4"], ["first", "x=3"]])
    assert n == 3  # x=3 named twice: once
    await wait_state(engine, "x=1", "first", RunState.CANCELLED)
    await wait_until(lambda: state_of(engine, "x=5", "first") == RunState.RUNNING, "x=5 to take x=1's worker")
    got = states(engine)
    assert got["x=3"] == got["x=4"] == RunState.CANCELLED
    assert got["x=2"] == RunState.RUNNING  # not named: untouched
    assert "x=3" not in engine.queue_order("first") and "x=4" not in engine.queue_order("first")


async def test_a_run_the_command_does_not_apply_to_is_left_alone(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await running_two(tmp_path, start_engine)
    assert engine.cancel_runs([["first", "x=3"]]) == 1
    # retry: only the cancelled one; the running one is not touched
    assert engine.retry_runs([["first", "x=3"], ["first", "x=2"]]) == 1
    assert state_of(engine, "x=3", "first") == RunState.QUEUED
    assert state_of(engine, "x=2", "first") == RunState.RUNNING
    # cancel of a run already cancelled: nothing to do, nothing counted
    engine.cancel_runs([["first", "x=4"]])
    assert engine.cancel_runs([["first", "x=4"]]) == 0


async def test_bump_runs_moves_the_queued_runs_named(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await running_two(tmp_path, start_engine)
    assert engine.queue_order("first") == ["x=3", "x=4", "x=5", "x=6"]
    assert engine.bump_runs([["first", "x=5"], ["first", "x=6"], ["first", "x=1"]], 2) == 2
    assert engine.queue_order("first") == ["x=5", "x=6", "x=3", "x=4"]
    run = run_of(engine, "x=5", "first")
    assert run is not None and run.priority == 2


async def test_bad_runs_change_nothing(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await running_two(tmp_path, start_engine)
    before = states(engine)
    for bad, message in (
        ([["first", "x=3"], ["nope", "x=1"]], "no stage named 'nope'"),
        ([["first", "x=3"], ["first", "x=99"]], "no run named 'x=99'"),
        ([["first", "x=3"], "first/x=4"], "a \\[stage, task\\] pair"),
    ):
        with pytest.raises(CommandError, match=message):
            engine.cancel_runs(bad)
    assert states(engine) == before


async def test_cancel_stage_cancels_the_runs_not_reached_yet_too(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await running_two(tmp_path, start_engine)
    assert run_of(engine, "x=1", "second") is None  # not reached yet: not stored
    assert engine.cancel_stage("second") == 6
    assert set(states(engine, "second").values()) == {RunState.CANCELLED}
    assert states(engine)["x=1"] == RunState.RUNNING  # the other stage goes on


async def test_waits_on_names_the_failed_run_a_blocked_one_waits_on(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    engine = await running_two(tmp_path, start_engine)
    engine.bump_runs([["first", "x=6"]], 5)
    engine.cancel_runs([["first", "x=1"]])  # x=6, first in line, takes its worker and fails
    await wait_state(engine, "x=6", "second", RunState.BLOCKED, timeout=30)
    assert engine.waits_on("second", "x=6") == ["first", "x=6"]
    assert engine.waits_on("second", "x=2") == ["first", "x=2"]  # waiting on a running run
    assert engine.waits_on("first", "x=1") is None  # needs nothing
