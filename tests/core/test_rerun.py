"""`coopy rerun CONFIG STAGE [TASK] [--downstream]` (Snakemake's `-R` / `--forcerun`): a run that ended runs again
once, and what consumes it; live through the engine, or with no engine marked in the store for the next start.
Each execution appends one line to `marks`, so the lines count how often each run ran."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.helpers.cli import coopy, status
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
command = ["sh", "-c", "echo s$0 >> marks; touch out.$0", "{i}"]
done_when = ["out.{i}"]
skip_if_done = true
[[stages]]
name = "t"
needs = ["s"]
workers = 2
command = ["sh", "-c", "echo t$0 >> marks; [ $0 != 1 ] || [ -e fixed ]", "{i}"]
"""


def _marks(tmp_path: Path) -> Counter[str]:
    path = tmp_path / "marks"
    return Counter(path.read_text().split()) if path.exists() else Counter()


def _settled(cfg: Path) -> bool:
    counts = [s["counts"] for s in status(cfg)["stages"]]
    return all(c["queued"] == c["running"] == c["waiting"] == 0 for c in counts)


def test_rerun_live_runs_a_finished_run_and_what_consumes_it(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1  # t/i=1 fails
    assert _marks(tmp_path) == Counter({"s0": 1, "s1": 1, "t0": 1, "t1": 1})
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
    try:
        out = coopy("rerun", str(cfg), "s", "i=0", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert "s/i=0: 2 run(s) to run again" in out.stdout
        wait_for(lambda: _settled(cfg) and _marks(tmp_path)["t0"] == 2, "s/i=0 and t/i=0 to run again", 30)
        assert _marks(tmp_path) == Counter({"s0": 2, "s1": 1, "t0": 2, "t1": 1}), "forced past skip_if_done"

        out = coopy("rerun", str(cfg), "s", "i=1", cwd=tmp_path)  # t/i=1 failed by itself: it stays failed
        assert out.returncode == 0 and "1 run(s)" in out.stdout, out.stdout + out.stderr
        wait_for(lambda: _settled(cfg) and _marks(tmp_path)["s1"] == 2, "s/i=1 to run again", 30)
        assert _marks(tmp_path)["t1"] == 1

        (tmp_path / "fixed").touch()
        out = coopy("rerun", str(cfg), "s", "i=1", "--downstream", cwd=tmp_path)  # and now it runs again too
        assert out.returncode == 0 and "2 run(s)" in out.stdout, out.stdout + out.stderr
        wait_for(lambda: _settled(cfg) and _marks(tmp_path)["t1"] == 2, "t/i=1 to run again", 30)

        out = coopy("rerun", str(cfg), "t", cwd=tmp_path)  # a whole stage
        assert out.returncode == 0 and "stage t: 2 run(s)" in out.stdout, out.stdout + out.stderr
        wait_for(lambda: _settled(cfg) and _marks(tmp_path)["t1"] == 3, "stage t to run again", 30)
        assert _marks(tmp_path) == Counter({"s0": 2, "s1": 3, "t0": 3, "t1": 3})

        bad = coopy("rerun", str(cfg), "s", "nope", cwd=tmp_path)
        assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        coopy("stop", str(cfg), cwd=tmp_path)


def test_rerun_without_an_engine_is_done_by_the_next_start_once(tmp_path: Path) -> None:
    (tmp_path / "fixed").touch()
    cfg = write_config(tmp_path, CONFIG)
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    out = coopy("rerun", str(cfg), "s", "i=1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "marked to run again" in out.stdout and "next start" in out.stdout
    assert _marks(tmp_path) == Counter({"s0": 1, "s1": 1, "t0": 1, "t1": 1}), "marking runs nothing"
    assert "at the next start: run s/i=1 again" in coopy("status", str(cfg), cwd=tmp_path).stdout
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    assert _marks(tmp_path) == Counter({"s0": 1, "s1": 2, "t0": 1, "t1": 2})
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0  # the mark was used up
    assert _marks(tmp_path) == Counter({"s0": 1, "s1": 2, "t0": 1, "t1": 2})
    bad = coopy("rerun", str(cfg), "s", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "has no run named 'nope'" in bad.stderr


def test_a_rerun_asked_of_a_live_engine_survives_a_stop_before_it_starts(tmp_path: Path) -> None:
    """The stage is paused, so the forced re-run is still waiting when the engine stops: the next start runs it
    (it is not taken for a run left in place whose last attempt passed, which a start judges by its recipe)."""
    cfg = write_config(tmp_path, CONFIG)
    (tmp_path / "fixed").touch()
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
    try:
        assert coopy("pause", str(cfg), "s", cwd=tmp_path).returncode == 0
        out = coopy("rerun", str(cfg), "s", "i=0", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    finally:
        assert coopy("stop", str(cfg), cwd=tmp_path).returncode == 0
    wait_for(lambda: not _live(tmp_path), "the engine to stop", 30)
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
    try:
        assert coopy("resume", str(cfg), "s", cwd=tmp_path).returncode == 0  # the pause outlived the restart
        wait_for(lambda: _settled(cfg) and _marks(tmp_path)["s0"] == 2, "the forced re-run after the restart", 30)
    finally:
        assert coopy("stop", str(cfg), cwd=tmp_path).returncode == 0
    assert _marks(tmp_path)["s0"] == 2 and _marks(tmp_path)["s1"] == 1


def _live(tmp_path: Path) -> bool:
    from coopy_core.state.store import EngineLock

    return EngineLock.holder(tmp_path / ".coopy") is not None
