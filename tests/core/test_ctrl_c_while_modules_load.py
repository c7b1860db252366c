"""A Ctrl-C while the command's modules load lands once they are loaded, as the one line and exit 130 of any
Ctrl-C at start. Raised inside an import it did not always stay a Ctrl-C (each seen under load in the
Ctrl-C-at-start tests): Python 3.11 turned one raised while a class was made (in `__set_name__`, as Textual's
reactives have) into a RuntimeError with a traceback, and pyo3 panicked when one landed in pydantic_core's
start-up. Here modules that send their own process SIGINT while they load stand for those moments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# the command's loading step imports the module; the command itself prints that it ran
SCRIPT = """
import importlib, sys
from coopy_core.cli import guard
def load():
    importlib.import_module("selfkill")
    return lambda: print("the command ran") or 0
sys.exit(guard.guarded("prog", load))
"""

WHILE_LOADING = """
import os, signal, pathlib
os.kill(os.getpid(), signal.SIGINT)
for _ in range(100000):  # the signal's handler would run in here
    pass
pathlib.Path(os.environ["MARKER"]).write_text("whole")
"""

WHILE_A_CLASS_IS_MADE = """
import os, signal, pathlib

class Reactive:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100000):  # the signal's handler would run in here
            pass

class Widget:
    value = Reactive()

pathlib.Path(os.environ["MARKER"]).write_text("whole")
"""


@pytest.mark.parametrize("module", [WHILE_LOADING, WHILE_A_CLASS_IS_MADE], ids=["module body", "__set_name__"])
def test_a_ctrl_c_while_modules_load_lands_after_them(tmp_path: Path, module: str) -> None:
    (tmp_path / "selfkill.py").write_text(module)
    marker = tmp_path / "marker"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path), "MARKER": str(marker), "PATH": "/usr/bin:/bin"},
    )
    assert marker.read_text() == "whole", out.stderr  # the import was not cut short
    assert out.returncode == 130 and out.stderr == "prog: interrupted\n", out.stderr
    assert out.stdout == ""  # the command never ran


def run_script(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )


def test_a_load_that_fails_gives_ctrl_c_back(tmp_path: Path) -> None:
    """An entry module holds SIGINT back from its first line; a command that cannot even load must not leave it
    so (a caller in the same process would never see a Ctrl-C again)."""
    out = run_script(
        """
import signal
from coopy_core.cli import guard
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # as the entry modules do
def load():
    raise ImportError("no such command")
try:
    guard.guarded("prog", load)
except ImportError:
    pass
print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
""",
        tmp_path,
    )
    assert out.returncode == 0 and out.stdout == "False\n", out.stderr


def test_a_ctrl_c_as_the_event_loop_is_made_says_one_line(tmp_path: Path) -> None:
    """The loop is made with SIGINT held back; one that came meanwhile lands as it is whole, before the command's
    coroutine ever ran: one line, not also Python's "coroutine ... was never awaited" warning at exit."""
    out = run_script(
        """
import asyncio, os, signal, sys
from coopy_core.cli import guard
made = asyncio.new_event_loop
def new_event_loop():
    os.kill(os.getpid(), signal.SIGINT)  # lands once the loop is made
    return made()
asyncio.new_event_loop = new_event_loop
async def command():
    print("the command ran")
    return 0
sys.exit(guard.guarded("prog", lambda: lambda: guard.run_whole(command())))
""",
        tmp_path,
    )
    assert out.returncode == 130 and out.stderr == "prog: interrupted\n" and out.stdout == "", out.stderr


def test_runs_never_inherit_a_blocked_ctrl_c(tmp_path: Path) -> None:
    """A run started while the engine's thread holds SIGINT back (the entry modules do while they load; a caller of
    the Python API may) gets no signal blocked: a command that ignores Ctrl-C for good would be a surprise. Today the
    run's `/bin/sh` wrapper (dash) clears the mask too, so this fails only once runs start without it (the spawn
    without a shell that issue 26 asks for); `setsigmask=()` in the spawn keeps the promise then."""
    (tmp_path / "coopy.toml").write_text(
        """
[tasks.matrix]
i = [1]
[[stages]]
name = "s"
command = ["sh", "-c", "grep SigBlk /proc/self/status > blocked.txt"]
"""
    )
    out = run_script(
        """
import signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
from coopy_core import load_config
from coopy_core.runner import run
results = run(load_config("coopy.toml"), progress=False)
print(results)
""",
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    (written,) = tmp_path.rglob("blocked.txt")
    assert written.read_text().split() == ["SigBlk:", "0000000000000000"]


def test_what_the_tuis_start_needs_loads_with_ctrl_c_held_back(tmp_path: Path) -> None:
    """`coopy_tui.launch` holds Ctrl-C back while it imports `coopy_tui.cli`; Textual, the app, the engine and
    pydantic's native core must load there, not later from inside the start where a Ctrl-C is an exception."""
    out = run_script(
        """
import sys
import coopy_tui.cli
wanted = ("textual.app", "coopy_tui.app", "coopy_core.engine", "coopy_core.wire.remote", "pydantic_core")
print(" ".join(name for name in wanted if name not in sys.modules))
""",
        tmp_path,
    )
    assert out.returncode == 0 and out.stdout == "\n", out.stdout + out.stderr
