"""`coopy log` prints a run's log (its latest attempt, or --attempt N), and `--follow` goes on until the attempt
ends, each line once; `coopy wait` blocks until the pipeline, a stage or a run has nothing left to run, exit 0 all
done, 1 some failed, 2 when no engine runs while runs are left (pueue's `log`, `follow` and `wait`)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import coopy, coopy_popen, status
from tests.helpers.engine import write_config
from tests.helpers.waiting import wait_for

CONFIG = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
i = [0, 1]
[[stages]]
name = "s"
workers = 2
retries = 1
backoff = 0
command = ["sh", "-c", "echo first $COOPY_RUN_ID; while [ ! -e go ]; do sleep 0.1; done; echo second; exit $0", "{i}"]
[[stages]]
name = "t"
needs = ["s"]
command = ["sh", "-c", "echo t$0", "{i}"]
"""


def _running(cfg: Path) -> int:
    return sum(r["state"] == "running" for r in status(cfg)["runs"])


def test_log_follow_and_wait(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
    try:
        wait_for(lambda: _running(cfg) == 2, "both runs of s to run", 30)
        wait_for(lambda: "first" in coopy("log", str(cfg), "s/i=0", cwd=tmp_path).stdout, "its first line", 30)
        now = coopy("log", str(cfg), "s/i=0", cwd=tmp_path)
        assert now.returncode == 0 and "second" not in now.stdout

        follow = coopy_popen("log", str(cfg), "i=0", "--stage", "s", "--follow", cwd=tmp_path, output=tmp_path / "f")
        waiter = coopy_popen("wait", str(cfg), "t", cwd=tmp_path, output=tmp_path / "w")
        stage_waiter = coopy_popen("wait", str(cfg), "s/i=0", cwd=tmp_path, output=tmp_path / "w0")
        wait_for(lambda: "first" in (tmp_path / "f").read_text(), "follow to print the first line", 30)
        assert follow.poll() is None and waiter.poll() is None and stage_waiter.poll() is None
        assert (tmp_path / "w").read_text() == ""

        (tmp_path / "go").touch()
        assert follow.wait(30) == 0
        lines = (tmp_path / "f").read_text().splitlines()
        assert [line.split()[0] for line in lines] == ["first", "second"], lines
        assert stage_waiter.wait(30) == 0, (tmp_path / "w0").read_text()
        assert waiter.wait(30) == 1, (tmp_path / "w").read_text()  # s/i=1 failed twice: t/i=1 is blocked
        assert "some failed" in (tmp_path / "w").read_text()
        counts = {s["name"]: s["counts"] for s in status(cfg)["stages"]}
        assert counts["t"]["done"] == 1 and counts["t"]["blocked"] == 1 and counts["s"]["failed"] == 1

        latest = coopy("log", str(cfg), "s/i=1", cwd=tmp_path).stdout
        first = coopy("log", str(cfg), "s/i=1", "--attempt", "1", cwd=tmp_path).stdout
        assert latest.startswith("first") and latest.split()[1].endswith("s/i=1/2"), latest
        assert first.split()[1].endswith("s/i=1/1"), first
        assert coopy("log", str(cfg), "t/i=1", cwd=tmp_path).returncode == 1  # blocked: no attempt, no log
        ambiguous = coopy("log", str(cfg), "i=0", cwd=tmp_path)
        assert ambiguous.returncode == 2 and "ran in stages s, t" in ambiguous.stderr
    finally:
        (tmp_path / "go").touch()
        coopy("stop", str(cfg), cwd=tmp_path)
    wait_for(lambda: status(cfg)["engine_pid"] is None, "the engine to stop", 30)
    assert coopy("wait", str(cfg), cwd=tmp_path).returncode == 1  # nothing left to run: at once


def test_wait_with_no_engine(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    left = coopy("wait", str(cfg), cwd=tmp_path)
    assert left.returncode == 2 and "no engine is running" in left.stderr
    (tmp_path / "go").touch()
    (tmp_path / "fixed").touch()
    ok = write_config(tmp_path, CONFIG.replace("exit $0", "exit 0"), "ok.toml")
    assert coopy("run", str(ok), cwd=tmp_path).returncode == 0
    done = coopy("wait", str(ok), cwd=tmp_path)
    assert done.returncode == 0 and "all done" in done.stdout
    bad = coopy("wait", str(ok), "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "neither a stage" in bad.stderr
