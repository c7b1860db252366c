"""`coopy run` with its output not a terminal prints one line per run's start and end, and one per run
skipped or blocked, including those the start itself settles: the lines a log of a run is read for."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.helpers.cli import coopy
from tests.helpers.engine import make_and_use


def test_one_line_per_start_end_skip_and_block(tmp_path: Path) -> None:
    make_and_use(tmp_path, fails="x=3")  # out/x=1.txt made before: skipped by the start, never run
    run = coopy("run", "coopy.toml", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    lines = [ln for ln in run.stdout.splitlines() if not ln.startswith(("make ", "use "))]  # not the summary
    said = Counter(" ".join(ln.split()[:3]) for ln in lines if not ln.startswith(("error:", "warning:")))
    assert said == Counter(
        {
            "skipped make x=1": 1,
            "running make x=2": 1,
            "done make x=2": 1,
            "running make x=3": 1,
            "running use x=1": 1,
            "done use x=1": 1,
            "running use x=2": 1,
            "done use x=2": 1,
            "blocked use x=3": 1,
        }
    ), run.stdout
    assert "skipped   make x=1 attempt 0 0.0s (outputs already exist)" in lines
    assert "blocked   use x=3 (waits on make/x=3, which failed)" in lines
