"""Ctrl-C at any moment of `coopy-tui`'s start (its imports, the config, the engine, the first frame), in a
real terminal: it ends with exit 130 and at most one line (once the screen is up: the quit that leaves the
commands running, exit 0), never a traceback (before: a KeyboardInterrupt
traceback while `coopy_core.config` and pydantic were imported).

The signal goes to the app's own process, as a terminal's Ctrl-C does to its foreground job (tmux's
`send-keys C-c` would depend on whether the screen has already put the terminal in raw mode, where Ctrl-C is
a key)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.helpers.engine import write_config
from tests.helpers.processes import interpreter_start, kill_all, processes_mentioning
from tests.helpers.tmux import Tmux, tui_command
from tests.helpers.waiting import poll

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

# seconds after the interpreter is up: the first land in the imports, the last once the screen is up
DELAYS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.5, 3.0)


# loaded by the app's Python from PYTHONPATH: SIGUSR1 writes every thread's stack to $COOPY_TEST_STACKS
SITECUSTOMIZE = """
import faulthandler, os, signal
STACKS = open(os.environ["COOPY_TEST_STACKS"], "w")
faulthandler.register(signal.SIGUSR1, file=STACKS, all_threads=True)
"""


@pytest.fixture(scope="module", name="interpreter_start")
def tui_interpreter_start() -> float:
    """Until `coopy_tui.launch` is imported a SIGINT is Python's own business (its own traceback from inside
    its start-up)."""
    return interpreter_start("coopy_tui.launch")


def interrupted_start(root: Path, after: float) -> str:
    """Start coopy-tui in tmux, send its process SIGINT `after` seconds later; the screen once it exited."""
    tmux = Tmux(root)
    try:
        site = root / "site"  # if it does not exit, SIGUSR1 makes it write every thread's stack (see `stacks`)
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        stacks_file = root / "stacks.txt"
        tmux.start(f"PYTHONPATH={site} COOPY_TEST_STACKS={stacks_file} {tui_command()} --in-process coopy.toml")
        pid = poll(tmux.app_pid, 30, "the app's process", interval=0.005)
        time.sleep(after)
        os.kill(pid, signal.SIGINT)
        try:
            return poll(lambda: tmux.screen_if(lambda s: "EXITED" in s), 30, "coopy-tui to exit")
        except AssertionError:
            shown = tmux.screen()
            pytest.fail(f"no exit 30 s after a SIGINT {after:.3f} s in:\n{shown}\n{stacks(pid, stacks_file)}")
    finally:
        tmux.kill()
        kill_all(processes_mentioning(str(root), environ=True))  # commands left running, as Ctrl-C leaves them


def stacks(pid: int, written: Path) -> str:
    """Every thread's Python stack in a process that did not exit (faulthandler, on SIGUSR1: sitecustomize)."""
    os.kill(pid, signal.SIGUSR1)
    return poll(lambda: written.exists() and written.read_text(), 30, "the stacks")  # type: ignore[no-any-return]


def before_coopy(screen: str) -> bool:
    """The SIGINT landed while Python imported the console script's entry module, before any code of CooPy ran:
    Python's own business (the margin measured beforehand is not enough on a busy machine); tried again."""
    lines = [line.strip() for line in screen.splitlines() if line.strip()]
    return (
        "KeyboardInterrupt" in lines
        and "from coopy_tui.launch import main" in lines
        and not any("coopy_core" in line or "coopy_tui/" in line for line in lines)
    )


@pytest.mark.parametrize("delay", DELAYS)
def test_ctrl_c_while_the_tui_starts_exits_130_without_a_traceback(
    tmp_path: Path, delay: float, interpreter_start: float
) -> None:
    write_config(
        tmp_path,
        """
        [tasks.matrix]
        i = [1, 2, 3, 4]
        [[stages]]
        name = "s"
        workers = 2
        command = ["sleep", "30"]
        """,
    )
    for _ in range(5):
        screen = interrupted_start(tmp_path, 1.5 * interpreter_start + delay)  # a margin: the suite loads the machine
        if not before_coopy(screen):
            break
    else:
        pytest.fail(f"five Ctrl-Cs in a row came before coopy_tui.launch was imported:\n{screen}")
    assert "Traceback" not in screen and "KeyboardInterrupt" not in screen, screen
    said = [line for line in screen.splitlines() if line.strip() and "EXITED" not in line]
    assert len(said) <= 1, screen
    if "EXITED 130" in screen:  # stopped while starting
        assert all(line == "coopy-tui: interrupted" for line in said), screen
    else:  # the screen was up: a SIGINT is a quit that leaves the commands running, and says so
        assert "EXITED 0" in screen and all("left running" in line for line in said), screen
