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
