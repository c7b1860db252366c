"""The bad-config table: every malformed config is refused by the real `coopy validate` and
`coopy run` with exit 2, ONE line on stderr naming the file and the key path, no traceback,
and nothing started or written (no state directory)."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.bad_config_cases import CASES, Case, write_case
from tests.helpers.cli import coopy, coopy_argv


def _check(case: Case, command: str, path: Path, result: subprocess.CompletedProcess[str]) -> list[str]:
    """All that is wrong with one refusal (empty when it is right)."""
    problems = []
    where = f"{case.id} / coopy {command}"
    if result.returncode != 2:
        problems.append(f"{where}: exit {result.returncode}, expected 2")
    lines = result.stderr.splitlines()
    if len(lines) != 1 or not result.stderr.endswith("\n"):
        problems.append(f"{where}: stderr should be exactly one line, got {result.stderr!r}")
    line = lines[0] if lines else ""
    if "Traceback" in result.stderr or "Traceback" in result.stdout:
        problems.append(f"{where}: traceback shown")
    if str(path) not in line:
        problems.append(f"{where}: the file is not named: {line!r}")
    if case.key is not None and f": {case.key}: " not in line:
        problems.append(f"{where}: key path {case.key!r} not named: {line!r}")
    if case.words and case.words not in line:
        problems.append(f"{where}: {case.words!r} not said: {line!r}")
    if result.stdout:
        problems.append(f"{where}: unexpected stdout {result.stdout!r}")
    leftovers = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
    expected = sorted(["broken_plugin_q9.py", *([] if case.text is None else ["coopy.toml"])])
    leftovers = [p for p in leftovers if p != "__pycache__"]
    if leftovers != expected:
        problems.append(f"{where}: something was written: {leftovers}")
    return problems


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


def test_bad_configs_are_refused(tmp_path: Path) -> None:
    """Every case through both commands, as real subprocesses (in parallel, to keep it quick)."""
    jobs = []
    for case in CASES:
        path = write_case(case, tmp_path / case.id)
        for command in ("validate", "run"):
            jobs.append((case, command, path))

    def run(job: tuple[Case, str, Path]) -> list[str]:
        case, command, path = job
        # a relative path, as a person types it; the message must name it as given
        result = coopy(command, str(path.relative_to(tmp_path)), cwd=tmp_path)
        return _check(case, command, path.relative_to(tmp_path), result)

    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)  # _check looks at leftovers via relative paths
        with ThreadPoolExecutor(max_workers=4) as pool:
            problems = [p for found in pool.map(run, jobs) for p in found]
    finally:
        os.chdir(cwd)
    assert not (tmp_path / ".coopy").exists()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("command", ["validate", "run", "status"])
def test_usage_errors_exit_2(tmp_path: Path, command: str) -> None:
    result = subprocess.run([*coopy_argv(), command], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
