"""Helpers for the reliability suite: real processes, real files, nothing mocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write(tmp: Path, body: str, name: str = "coopy.toml") -> Path:
    path = tmp / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def coopy(
    *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coopy_core.cli", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )


def status(cfg: Path) -> dict[str, Any]:
    out = coopy("status", str(cfg), "--json", cwd=cfg.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment mentions `text` (orphans of a test)."""
    found = []
    needle = text.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                environ = f.read()
        except (OSError, IndexError):
            continue
        if needle in cmdline or needle in environ:
            try:  # the tmux server keeps the command line of the client that started it: not ours
                if os.path.basename(os.readlink(f"/proc/{entry.name}/exe")) == "tmux":
                    continue
            except OSError:
                pass
            found.append(int(entry.name))
    return found


def describe(pids: list[int]) -> str:
    """`pid: cmdline` of each, for a failure message that says what was left behind."""
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "(gone)"
        out.append(f"{pid}: {cmd}")
    return "; ".join(out)


def wait_no_processes(text: str, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while found := processes_mentioning(text):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still running after {timeout:g}s: {describe(found)}")
        time.sleep(0.1)
