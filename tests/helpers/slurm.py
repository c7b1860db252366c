"""Slurm-only helpers: the test cluster's script, squeue / scancel, and wrappers that count calls.

A real cluster answers slower than a local process: these tests wait longer, and look less often.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SLURM_SCRIPT = REPO / ".ci" / "slurm.sh"
SLURM_DEADLINE = 60.0  # seconds, for engine.wait_until / wait_state (their defaults suit local processes)
SLURM_INTERVAL = 0.05  # seconds between two looks (a look may be an squeue call)


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
        fail = f'if [ ! -e "{calls}" ]; then echo call >> "{calls}"; echo \'{fail_first_with}\' >&2; exit 1; fi\n'
    wrapper = directory / command
    wrapper.write_text(f'#!/bin/sh\n{fail}echo call >> "{calls}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return calls


def calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0
