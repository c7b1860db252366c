"""A clean `coopy run` writes `<state_dir>/engine.log` as the README says: when it started and how it ended."""

from __future__ import annotations

from pathlib import Path

from coopy_core import load_config
from tests.helpers.cli import coopy
from tests.helpers.engine import one_stage


def test_a_clean_run_leaves_its_start_and_end_in_engine_log(tmp_path: Path) -> None:
    cfg = one_stage(tmp_path, '["true"]', tasks=2)
    ran = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = load_config(cfg).state_dir / "engine.log"
    assert log.exists(), "coopy run wrote no engine.log"
    lines = log.read_text().splitlines()
    assert len(lines) == 2, lines
    assert "coopy run (pid " in lines[0] and f"started: {cfg}" in lines[0]
    assert lines[1].endswith("ended: every run passed")


def test_a_failing_run_says_so_in_engine_log(tmp_path: Path) -> None:
    cfg = one_stage(tmp_path, '["false"]')
    ran = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    lines = (load_config(cfg).state_dir / "engine.log").read_text().splitlines()
    assert lines[-1].endswith("ended: finished with failures"), lines
