"""Ctrl-C at any moment of `coopy run`'s start-up (importing, loading the config, opening the store, re-adopting,
the first dispatch, binding the socket): exit 130 and at most one line, never a traceback (before: a
KeyboardInterrupt traceback and exit -2 in the first ~0.2 s)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.helpers.cli import coopy_argv
from tests.helpers.engine import write_config
from tests.helpers.processes import kill_all, processes_mentioning, rest_of_stderr, start_once_imported

# seconds after `coopy_core.cli.launch` is imported (before that, a Ctrl-C is Python's own business);
# the first ones land in the imports (~0.15 s here), the later ones in the engine's start and its first dispatch
DELAYS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0)


@pytest.mark.parametrize("delay", DELAYS)
def test_ctrl_c_during_start_up_exits_130_with_at_most_one_line(tmp_path: Path, delay: float) -> None:
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
    # from the moment `coopy_core.cli.launch` is imported (Python says so: a state, not a guessed time); before
    # that a Ctrl-C is Python's own business
    proc = start_once_imported([*coopy_argv(), "run", str(cfg)], "coopy_core.cli.launch", cwd=tmp_path)
    try:
        time.sleep(delay)  # the moment of start-up this case is about
        proc.send_signal(signal.SIGINT)
        err = rest_of_stderr(proc, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(processes_mentioning(str(tmp_path), environ=True))  # commands left running, as Ctrl-C leaves them
    assert proc.returncode == 130, f"exit {proc.returncode} after {delay}s: {err[-2000:]}"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert err.count("\n") <= 1, err
