"""Ctrl-C at any moment of `coopy run`'s start-up (importing, loading the config, opening the store, re-adopting,
the first dispatch, binding the socket): exit 130 and at most one line, never a traceback (before: a
KeyboardInterrupt traceback and exit -2 in the first ~0.2 s)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.cli import coopy_argv
from tests.helpers.engine import write_config
from tests.helpers.processes import interpreter_start, kill_all, processes_mentioning

# seconds after the interpreter itself is up (measured below: before that, a Ctrl-C is Python's own business);
# the first ones land in the imports (~0.15 s here), the later ones in the engine's start and its first dispatch
DELAYS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0)


@pytest.fixture(scope="module", name="interpreter_start")
def coopy_interpreter_start() -> float:
    """The console script imports `coopy_core.cli.launch` before any handler of ours can exist: that is
    Python's."""
    return interpreter_start("coopy_core.cli.launch")


@pytest.mark.parametrize("delay", DELAYS)
def test_ctrl_c_during_start_up_exits_130_with_at_most_one_line(
    tmp_path: Path, delay: float, interpreter_start: float
) -> None:
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        i = [1, 2, 3, 4, 5, 6, 7, 8]
        [[stages]]
        name = "s"
        workers = 4
        command = ["sleep", "5"]
        """,
    )
    proc = subprocess.Popen(
        [*coopy_argv(), "run", str(cfg)],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(interpreter_start + delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(processes_mentioning(str(tmp_path), environ=True))  # commands left running, as Ctrl-C leaves them
    assert proc.returncode == 130, f"exit {proc.returncode} after {delay}s: {err[-2000:]}"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert err.count("\n") <= 1, err
