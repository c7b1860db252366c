"""A Ctrl-C that lands while a plug-in runs (the Scripter making a command during the engine's start) stops
`coopy run` (exit 130, one line), as anywhere else: the plug-in boundary, which turns a plug-in's own errors and
sys.exit() into a failed attempt, never swallows it (before: the run went on and the pipeline ended with 0)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers.cli import coopy_argv
from tests.helpers.processes import kill_all, processes_mentioning

PLUGIN = """
import os, signal, time
from coopy_core import Scripter

class CtrlCWhileScripting(Scripter):
    def script(self, task, attempt):
        os.kill(os.getpid(), signal.SIGINT)  # the person presses Ctrl-C now
        time.sleep(1)
        return super().script(task, attempt)
"""

CONFIG = """
[pipeline]
state_dir = ".coopy"

[tasks.matrix]
i = [1, 2]

[[stages]]
name = "s"
command = "echo {i} >> MARKS"
shell = true
scripter = "ctrlc:CtrlCWhileScripting"
"""


def test_ctrl_c_inside_a_scripter_stops_coopy_run(tmp_path: Path) -> None:
    (tmp_path / "ctrlc.py").write_text(PLUGIN)
    (tmp_path / "coopy.toml").write_text(CONFIG.replace("MARKS", str(tmp_path / "marks.txt")))
    try:
        done = subprocess.run(
            [*coopy_argv(), "run", "coopy.toml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    finally:
        kill_all(processes_mentioning(str(tmp_path), environ=True))
    assert done.returncode == 130, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.count("\n") <= 1, done.stderr
    assert not (tmp_path / "marks.txt").exists()  # nothing ran
