"""A state store written by a newer CooPy (a higher schema version, or a column this version does not know) is
refused at once, in one line, with exit 2, by the engine and by the readers alike: nothing runs, nothing is
written, and nothing is retried as if a disk were full."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers.cli import coopy

CONFIG = """
[pipeline]
state_dir = ".coopy"

[tasks.matrix]
seed = [0, 1, 2]

[[stages]]
name = "train"
workers = 2
command = "echo {seed} >> MARKS"
shell = true
"""


def _finished(root: Path) -> Path:
    root.mkdir()
    (root / "coopy.toml").write_text(CONFIG.replace("MARKS", str(root / "marks.txt")))
    done = coopy("run", str(root / "coopy.toml"), cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len((root / "marks.txt").read_text().splitlines()) == 3
    return root


@pytest.mark.parametrize(
    "newer",
    ["PRAGMA user_version = 7", "ALTER TABLE runs ADD COLUMN gpu_uuid TEXT NOT NULL DEFAULT ''"],
    ids=["schema-version", "unknown-column"],
)
def test_a_store_from_a_newer_coopy_is_refused_in_one_line(tmp_path: Path, newer: str) -> None:
    root = _finished(tmp_path / "p")
    db = root / ".coopy" / "state.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(newer)
        conn.execute("UPDATE runs SET state = 'queued'")  # runs the engine would otherwise start again
    conn.close()
    stored = db.read_bytes()
    for verb in (["run"], ["status"], ["results"], ["plan"]):
        answer = coopy(*verb, str(root / "coopy.toml"), cwd=root, timeout=60)
        assert answer.returncode == 2, (verb, answer.returncode, answer.stderr)
        lines = answer.stderr.strip().splitlines()
        assert len(lines) == 1 and "newer CooPy" in lines[0] and str(db) in lines[0], (verb, answer.stderr)
        assert "Traceback" not in answer.stderr + answer.stdout
    assert len((root / "marks.txt").read_text().splitlines()) == 3  # nothing ran again
    assert db.read_bytes() == stored  # nothing was written


def test_a_store_from_before_the_schema_version_is_still_ours(tmp_path: Path) -> None:
    """Stores written before the version was recorded (user_version 0) keep working, and get it set."""
    root = _finished(tmp_path / "p")
    db = root / ".coopy" / "state.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 0")
    conn.close()
    again = coopy("run", str(root / "coopy.toml"), cwd=root, timeout=120)
    assert again.returncode == 0, again.stderr
    assert len((root / "marks.txt").read_text().splitlines()) == 3
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    conn.close()
