"""Shared helpers for the core engine tests (imported as `core_helpers`): real configs, real engines, real processes.

Nothing is mocked: configs are TOML files under `tmp_path`, engines own a real
SQLite store there, and commands are real processes. Waiting is done by polling
with generous deadlines (this suite runs on small shared machines).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from coopy_core import Engine, RunState, RunView, StageView

DEADLINE = 30.0  # seconds: generous; a passing test never gets near it


# ------------------------------------------------------------------ configs
def write_config(directory: Path, body: str, name: str = "coopy.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


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


async def wait_until(
    condition: Callable[[], bool], what: str, timeout: float = DEADLINE, interval: float = 0.02
) -> None:
    """Poll `condition` while the event loop keeps running the engine."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_state(engine: Engine, task: str, stage: str, state: RunState, timeout: float = DEADLINE) -> RunView:
    await wait_until(lambda: state_of(engine, task, stage) == state, f"{stage}/{task} {state.value}", timeout)
    run = run_of(engine, task, stage)
    assert run is not None
    return run


async def wait_finished(engine: Engine, timeout: float = DEADLINE) -> bool:
    return await asyncio.wait_for(engine.run_until_finished(), timeout)


EngineFactory = Callable[..., Awaitable[Engine]]


# ------------------------------------------------------------------ processes
def _stat_fields(pid: str) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :].split()


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is `sid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is None or fields[0] in (b"Z", b"X"):
            continue
        if int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def processes_mentioning(text: str) -> list[int]:
    """Live processes (other than this one) whose command line contains `text`."""
    needle = text.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        fields = _stat_fields(entry.name)
        if fields is None or fields[0] in (b"Z", b"X"):
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


async def wait_gone(find: Callable[[], list[int]], what: str, timeout: float = 10.0) -> None:
    await wait_until(lambda: not find(), f"no process left of {what} (still: {find()})", timeout)


def kill_all(pids: list[int]) -> None:
    """Test clean-up only: never leave a stray process behind a failed assertion."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


# ------------------------------------------------------------------ the real CLI
def coopy_argv() -> list[str]:
    script = Path(sys.executable).with_name("coopy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coopy_core.cli"]


def coopy(*args: str, cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*coopy_argv(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def coopy_popen(*args: str, cwd: Path, output: Path) -> subprocess.Popen[bytes]:
    with open(output, "ab") as out:
        return subprocess.Popen(
            [*coopy_argv(), *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
