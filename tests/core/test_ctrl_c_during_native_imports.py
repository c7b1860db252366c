"""A Ctrl-C while an extension module starts lands after its import: pydantic_core (Rust, pyo3) interrupted in
its own start-up panicked with a traceback (seen once under load in the Ctrl-C-at-start test). Here a module
that sends itself SIGINT while it loads stands for it: its import must finish, then the command ends with
exit 130 and one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from coopy_core.cli import guard
guard.NATIVE_MODULES = ("selfkill",)
sys.exit(guard.guarded("prog", lambda: 0))
"""

MODULE = """
import os, signal, pathlib
os.kill(os.getpid(), signal.SIGINT)
for _ in range(100000):  # the signal's handler would run in here
    pass
pathlib.Path(os.environ["MARKER"]).write_text("whole")
"""


def test_a_ctrl_c_during_a_native_import_lands_after_it(tmp_path: Path) -> None:
    (tmp_path / "selfkill.py").write_text(MODULE)
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
