"""Helpers for the Slurm tests (imported as `slurm_helpers`): real configs, real engines, a real cluster.

Waiting is polling with generous deadlines: these tests run on small shared
machines, and a passing test never gets near a deadline.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from coopy_core import Engine, RunState, RunView

REPO = Path(__file__).resolve().parents[2]
SLURM_SCRIPT = REPO / ".ci" / "slurm.sh"
DEADLINE = 60.0


def write_config(directory: Path, body: str) -> Path:
    path = directory / "coopy.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def run_of(engine: Engine, task: str, stage: str) -> RunView | None:
    for run in engine.snapshot().runs:
        if run.task == task and run.stage == stage:
            return run
    return None


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_state(engine: Engine, task: str, stage: str, state: RunState, timeout: float = DEADLINE) -> RunView:
    def reached() -> bool:
        run = run_of(engine, task, stage)
        return run is not None and run.state == state

    await wait_until(reached, f"{stage}/{task} {state.value}", timeout)
    run = run_of(engine, task, stage)
    assert run is not None
    return run


def squeue(*args: str) -> str:
    """squeue's output (no header); '' when Slurm knows none of the jobs asked for."""
    result = subprocess.run(["squeue", "--noheader", *args], capture_output=True, text=True, timeout=60)
    return result.stdout.strip() if result.returncode == 0 else ""


def job_state(job_id: str) -> str:
    """The job's state as squeue shows it (terminal states included), or '' if unknown."""
    return squeue("--states=all", f"--jobs={job_id}", "--format=%T")


def active_jobs(job_id: str) -> str:
    """squeue's default view (pending, running, completing): '' once the job is gone."""
    return squeue(f"--jobs={job_id}", "--format=%i %T")


def cancel_jobs_mentioning(text: str) -> None:
    """Clean-up: scancel every active job whose comment (CooPy's run id) contains `text`."""
    out = squeue("--format=%i|%k")
    ids = [line.split("|", 1)[0] for line in out.splitlines() if text in line.split("|", 1)[-1]]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60, check=False)


def counting_wrapper(directory: Path, command: str, fail_first_with: str = "") -> Path:
    """A `command` earlier on PATH that logs each call to `<directory>/<command>.calls`, then runs the real one.

    With `fail_first_with`, its first call prints that to stderr and fails instead (a transient Slurm error).
    """
    real = shutil.which(command)
    assert real is not None, f"{command} not installed"
    directory.mkdir(parents=True, exist_ok=True)
    calls = directory / f"{command}.calls"
    fail = ""
    if fail_first_with:
        fail = (
            f'if [ ! -e "{calls}" ]; then echo call >> "{calls}"; '
            f"echo '{fail_first_with}' >&2; exit 1; fi\n"
        )
    wrapper = directory / command
    wrapper.write_text(f'#!/bin/sh\n{fail}echo call >> "{calls}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return calls


def calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def coopy_argv() -> list[str]:
    script = Path(sys.executable).with_name("coopy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coopy_core.cli"]
