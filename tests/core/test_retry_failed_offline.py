"""`coopy retry-failed` with no engine running marks the failed and cancelled runs in the store and the next start
runs them once (the mark is used up by that start); plain `coopy run` runs none of them; `coopy run
--retry-failed` does. Each run of the step appends one line to `marks`: the lines count the executions."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

CONFIG = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
i = [0, 1, 2]
[[stages]]
name = "s"
workers = 3
command = ["sh", "-c", "echo $0 >> marks; [ $0 != 1 ] || [ -e fixed ]", "{i}"]
[[stages]]
name = "t"
needs = ["s"]
command = ["sh", "-c", "echo t$0 >> marks", "{i}"]
"""


def _count(tmp_path: Path, line: str) -> int:
    return (tmp_path / "marks").read_text().split().count(line)


def test_retry_failed_without_an_engine_marks_them_for_the_next_start(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    assert (_count(tmp_path, "1"), _count(tmp_path, "t1")) == (1, 0)

    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1  # plain run: the failed run stays failed
    assert _count(tmp_path, "1") == 1

    out = coopy("retry-failed", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 failed or cancelled run(s) marked to run again" in out.stdout
    assert "next start" in out.stdout
    assert _count(tmp_path, "1") == 1, "marking starts nothing"
    assert "at the next start: retry the failed and cancelled runs" in coopy("status", str(cfg), cwd=tmp_path).stdout
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1  # not fixed yet: it ran once more, and failed
    assert _count(tmp_path, "1") == 2
    assert "at the next start" not in coopy("status", str(cfg), cwd=tmp_path).stdout
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1  # the mark was used up by that start
    assert _count(tmp_path, "1") == 2

    (tmp_path / "fixed").touch()
    assert coopy("retry-failed", str(cfg), cwd=tmp_path).returncode == 0
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    assert (_count(tmp_path, "1"), _count(tmp_path, "t1")) == (3, 1), "the next start ran it, and what it blocked"
    assert (_count(tmp_path, "0"), _count(tmp_path, "t0")) == (1, 1), "nothing else ran again"


def test_retry_failed_with_nothing_failed_says_so(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    (tmp_path / "fixed").touch()
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    out = coopy("retry-failed", str(cfg), cwd=tmp_path)
    assert out.returncode == 0 and "nothing to retry" in out.stdout
    bad = coopy("retry-failed", str(cfg), "--stage", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "no stage named 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_run_retry_failed_runs_them_in_that_start(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    (tmp_path / "fixed").touch()
    out = coopy("run", "--retry-failed", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (_count(tmp_path, "1"), _count(tmp_path, "t1")) == (2, 1)
    assert (_count(tmp_path, "0"), _count(tmp_path, "2")) == (1, 1)
