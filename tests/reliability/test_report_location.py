"""The reliability report is written outside the source tree: a fresh copy of the repository stays clean after
the README's test command (run here on one reliability test, in a copy of the tracked files) and the report is
where the run says it is (before: RELIABILITY.md in the tree was rewritten by every run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICK = "tests/reliability/test_faults.py::test_unwritable_log_dir_for_every_stage_still_ends_cleanly"


def _fresh_copy(dest: Path) -> Path:
    """The tracked files of this tree (as they are now), committed in a new repository."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env, capture_output=True)
    return dest


def _dirty(repo: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout


@pytest.mark.parametrize("given", [False, True], ids=["temp-dir", "given-path"])
def test_the_report_never_lands_in_the_source_tree(tmp_path: Path, given: bool) -> None:
    repo = _fresh_copy(tmp_path / "clone")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPY_")}
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    target = tmp_path / "elsewhere" / "report.md"
    if given:
        env["COOPY_RELIABILITY_REPORT"] = str(target)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", QUICK],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert _dirty(repo) == "", "the test run changed the source tree"
    written = target if given else tmp_path / "tmp" / f"coopy-reliability-{os.getuid()}" / "RELIABILITY.md"
    assert written.exists(), out.stdout[-2000:]
    assert f"reliability report: {written}" in out.stdout
    text = written.read_text()
    assert "test_unwritable_log_dir_for_every_stage_still_ends_cleanly` | passed" in text
    assert "COOPY_RELIABILITY_REPORT=RELIABILITY.md pytest tests/reliability" in text.splitlines()[2]


def test_the_committed_report_says_how_it_was_made() -> None:
    first = (ROOT / "RELIABILITY.md").read_text().splitlines()[2]
    assert "COOPY_RELIABILITY_REPORT=RELIABILITY.md pytest tests/reliability" in first
