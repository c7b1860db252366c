"""Plain `coopy status` names the runs a person looks for (running, blocked, failed), at most ten of a kind per
stage and "and N more" for the rest, live from the engine and from the store alike; and a worker cap set at run
time shows beside the config's (`workers 3 (config: 2)`), is kept by the next start while the config's value is
the one it was set over, and gives way to a value edited in the config."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config
from tests.helpers.waiting import wait_for

FAILING = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
i = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
[[stages]]
name = "s"
workers = 12
command = ["sh", "-c", "exit 3"]
[[stages]]
name = "t"
needs = ["s"]
command = ["true"]
"""


def _lines(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip().startswith(start)]


def test_failed_and_blocked_runs_are_named_ten_at_most(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, FAILING)
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    text = coopy("status", str(cfg), cwd=tmp_path).stdout
    assert len(_lines(text, "failed: s/i=")) == 10, text
    assert len(_lines(text, "blocked: t/i=")) == 10, text
    assert _lines(text, "... and 2 more failed in s"), text
    assert _lines(text, "... and 2 more blocked in t"), text


WAITING = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
i = [0, 1, 2, 3]
[[stages]]
name = "s"
workers = {workers}
command = ["sh", "-c", "while [ ! -e go ]; do sleep 0.1; done"]
"""


def _running(cfg: Path) -> int:
    return sum(r["state"] == "running" for r in status(cfg)["runs"])


def _stage_line(text: str) -> str:
    (line,) = _lines(text, "s workers")
    return line.strip()


def test_running_runs_are_named_and_a_runtime_cap_is_shown_kept_and_overridden(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, WAITING.format(workers=2))
    try:
        assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
        wait_for(lambda: _running(cfg) == 2, "two runs running", 30)
        assert coopy("workers", str(cfg), "s", "3", cwd=tmp_path).returncode == 0
        wait_for(lambda: _running(cfg) == 3, "three runs running", 30)
        live = coopy("status", str(cfg), cwd=tmp_path).stdout
        assert len(_lines(live, "running: s/i=")) == 3, live
        assert "pid " in _lines(live, "running: s/i=")[0], live
        assert _stage_line(live).startswith("s workers 3 (config: 2):"), live

        assert coopy("stop", str(cfg), cwd=tmp_path).returncode == 0  # the runs go on
        wait_for(lambda: status(cfg)["engine_pid"] is None, "the engine to stop", 30)
        stored = coopy("status", str(cfg), cwd=tmp_path).stdout
        assert len(_lines(stored, "running: s/i=")) == 3, stored
        assert _stage_line(stored).startswith("s workers 3 (config: 2):"), stored

        again = coopy("run", "--detach", str(cfg), cwd=tmp_path)  # the config unchanged: 3 kept, and said so
        assert again.returncode == 0
        assert "coopy: s: workers 3, set at run time, kept (the config says 2" in again.stderr, again.stderr
        assert status(cfg)["stages"][0]["workers"] == 3
        assert coopy("stop", str(cfg), cwd=tmp_path).returncode == 0
        wait_for(lambda: status(cfg)["engine_pid"] is None, "the engine to stop", 30)

        write_config(tmp_path, WAITING.format(workers=1))  # edited: the config's value wins
        assert _stage_line(coopy("status", str(cfg), cwd=tmp_path).stdout).startswith("s workers 1:")
        edited = coopy("run", "--detach", str(cfg), cwd=tmp_path)
        assert edited.returncode == 0 and "set at run time" not in edited.stderr, edited.stderr
        assert status(cfg)["stages"][0]["workers"] == 1
        assert _stage_line(coopy("status", str(cfg), cwd=tmp_path).stdout).startswith("s workers 1:")
    finally:
        (tmp_path / "go").touch()
        wait_for(lambda: all(r["state"] != "running" for r in status(cfg)["runs"]), "the runs to end", 30)
        coopy("stop", str(cfg), cwd=tmp_path)
