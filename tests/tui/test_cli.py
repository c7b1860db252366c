"""`coopy-tui CONFIG` fails like `coopy validate`: one line on stderr, exit 2, no traceback, terminal untouched."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.state.store import EngineLock


def tui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coopy_tui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def validate(path: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coopy_core.cli.main", "validate", path],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2
    assert result.stdout == ""  # Textual never started: no escape codes, nothing to restore
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "content",
    [
        None,  # missing file
        "[pipeline\nname = 'x'\n",  # TOML syntax
        "[[stages]]\nname = 'a'\ncommand = 'true'\nworkers = 0\n[tasks.matrix]\nx = [1]\n",  # bad value
        "[[stages]]\nname = 'a'\ncommand = 'true'\nbogus = 1\n[tasks.matrix]\nx = [1]\n",  # unknown key
    ],
    ids=["missing", "syntax", "bad-value", "unknown-key"],
)
def test_bad_config_prints_the_validate_message_and_exits_2(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "coopy.toml").write_text(content)
    result = tui("coopy.toml", cwd=tmp_path)
    assert_clean_failure(result)
    expected = validate("coopy.toml", cwd=tmp_path)
    assert expected.returncode == 2
    assert result.stderr.removeprefix("coopy-tui: ") == expected.stderr.removeprefix("coopy: ")
    assert result.stderr.startswith("coopy-tui: coopy.toml: ")


def test_engine_already_running_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "coopy.toml").write_text(
        textwrap.dedent(
            """
            [tasks.matrix]
            x = [1]
            [[stages]]
            name = "a"
            command = ["true"]
            """
        )
    )
    config = load_config(tmp_path / "coopy.toml")
    config.state_dir.mkdir(parents=True)
    lock = EngineLock(config.state_dir)
    lock.acquire()
    try:
        result = tui("coopy.toml", cwd=tmp_path)
    finally:
        lock.release()
    assert_clean_failure(result)
    assert "another coopy engine" in result.stderr
    assert result.stderr.startswith("coopy-tui: ")


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = tui(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: coopy-tui" in result.stderr
