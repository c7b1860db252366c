"""Real configs and real engines: configs are TOML files under `tmp_path`, engines own a real SQLite store there,
and commands are real processes. Waiting is polling with generous deadlines (the suites run on small shared
machines; a passing test never gets near one)."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from coopy_core import Engine, RunState, RunView, StageView

DEADLINE = 30.0  # seconds
INTERVAL = 0.02  # seconds between two looks


# ------------------------------------------------------------------ configs
def write_config(directory: Path, body: str, name: str = "coopy.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def one_stage(directory: Path, command: str, extra: str = "", tasks: int = 1) -> Path:
    """A config of one stage `s` running `command` (TOML) for `tasks` configurations `i=0`, `i=1`, ...; `extra`:
    more lines of the stage's table."""
    return write_config(
        directory,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.matrix]
        i = {list(range(tasks))}
        [[stages]]
        name = "s"
        command = {command}
        {extra}
        """,
    )


def make_and_use(directory: Path, fails: str) -> Path:
    """Configurations x=1..3 through `make` (skipped when out/<task>.txt is there; `fails` exits 1) and `use`;
    out/x=1.txt is made beforehand, so x=1 is skipped at start."""
    (directory / "out").mkdir()
    (directory / "out" / "x=1.txt").write_text("made before\n")
    return write_config(
        directory,
        f"""
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "make"
        command = ["sh", "-c", "[ $0 = {fails} ] && exit 1; touch out/$0.txt", "{{task}}"]
        done_when = ["out/{{task}}.txt"]
        skip_if_done = true
        [[stages]]
        name = "use"
        command = ["true"]
        """,
    )


# two configurations whose runs sleep (an engine stays up), and the same pipeline past any machine's memory
TWO_SLEEPING = """
    [tasks.matrix]
    i = [0, 1]
    [[stages]]
    name = "s"
    command = ["sleep", "60"]
    """
BEYOND_MEMORY = TWO_SLEEPING.replace("i = [0, 1]", "\n".join(f"p{k} = {list(range(10))}" for k in range(9)))


# ------------------------------------------------------------------ engine views
def run_of(engine: Engine, task: str, stage: str) -> RunView | None:
    for run in engine.snapshot().runs:
        if run.task == task and run.stage == stage:
            return run
    return None


def state_of(engine: Engine, task: str, stage: str) -> RunState | None:
    run = run_of(engine, task, stage)
    return run.state if run else None


def stage_of(engine: Engine, stage: str) -> StageView:
    return engine.stage_view(stage)


# ------------------------------------------------------------------ waiting (the event loop keeps running the engine)
async def wait_until(
    condition: Callable[[], bool], what: str, timeout: float = DEADLINE, interval: float = INTERVAL
) -> None:
    """Poll `condition` while the event loop keeps running the engine."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_state(
    engine: Engine, task: str, stage: str, state: RunState, timeout: float = DEADLINE, interval: float = INTERVAL
) -> RunView:
    await wait_until(lambda: state_of(engine, task, stage) == state, f"{stage}/{task} {state.value}", timeout, interval)
    run = run_of(engine, task, stage)
    assert run is not None
    return run


async def wait_finished(engine: Engine, timeout: float = DEADLINE) -> bool:
    return await asyncio.wait_for(engine.run_until_finished(), timeout)


EngineFactory = Callable[..., Awaitable[Engine]]
