"""A full state disk (a small tmpfs mounted as the state dir, filled, then freed): nothing new starts, one clear
line says why, running commands go on and their results are kept (the exit-status file is a reserve made at the
start), and the pipeline goes on by itself once there is room again, or at the next start. Nothing is lost and
nothing runs twice."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.helpers.cli import coopy, coopy_popen, status
from tests.helpers.engine import write_config
from tests.helpers.machine import fill, small_disk
from tests.helpers.marks import of_kind, read_marks, starts, step_argv
from tests.helpers.processes import kill_all, processes_mentioning, wait_no_processes
from tests.helpers.waiting import poll

TASKS = 6


def _config(tmp: Path, marks: Path) -> Path:
    return write_config(
        tmp,
        f"""
        [pipeline]
        name = "fullstate"
        poll_interval = 0.2
        [tasks.matrix]
        i = {list(range(TASKS))}
        [[stages]]
        name = "a"
        workers = 3
        command = {step_argv(marks, "--seconds", "2")}
        [[stages]]
        name = "b"
        workers = 3
        command = {step_argv(marks, "--seconds", "0.2", "--upstream", "a")}
        """,
    )


def _check_all_once(cfg: Path, marks: Path) -> None:
    found = read_marks(marks)
    assert of_kind(found, "overlap") == []
    expected = {(stage, f"i={i}"): 1 for stage in ("a", "b") for i in range(TASKS)}
    assert dict(starts(found)) == expected, "every run ran exactly once"
    runs = status(cfg)["runs"]
    assert {(r["stage"], r["task"]): (r["state"], r["attempt"]) for r in runs} == {k: ("done", 1) for k in expected}


def test_state_disk_fills_mid_run_then_frees_nothing_lost(tmp_path: Path, report: dict[str, Any]) -> None:
    marks = tmp_path / "marks"
    cfg = _config(tmp_path, marks)
    output = tmp_path / "output.txt"
    with small_disk(tmp_path / ".coopy") as disk:
        engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=output)
        try:
            poll(lambda: len(of_kind(read_marks(marks), "start")) == 3, 30, "three runs of a to start", 0.02)
            filler = fill(disk)
            # the three end while the disk is full; nothing new may start until there is room again
            poll(lambda: len(of_kind(read_marks(marks), "end")) == 3, 30, "the running commands to end", 0.05)
            poll(lambda: "cannot be written" in output.read_text(), 30, "the engine to say the store is full")
            time.sleep(3)  # a few commit retries
            assert len(of_kind(read_marks(marks), "start")) == 3, "something started while the state disk was full"
            assert engine.poll() is None, output.read_text()
            filler.unlink()
            assert engine.wait(timeout=120) == 0, output.read_text()[-3000:]
        finally:
            if engine.poll() is None:
                engine.kill()
            kill_all(processes_mentioning(str(tmp_path), environ=True))
        text = output.read_text()
        assert "Traceback" not in text, text[-3000:]
        full = [line for line in text.splitlines() if "cannot be written" in line]
        assert len(full) == 1 and "disk is full" in full[0], full
        assert "can be written again" in text
        _check_all_once(cfg, marks)
    wait_no_processes(str(tmp_path), "no process of the pipeline left")
    report.update({"runs": 2 * TASKS, "lost": 0, "ran twice": 0, "message": full[0][:90].replace("|", "/")})


def test_state_disk_full_while_no_engine_runs_results_are_kept(tmp_path: Path, report: dict[str, Any]) -> None:
    """The engine is killed, the disk fills, the commands end (their exit status goes into the reserve): a start
    on the full disk says it cannot write, in one line; once there is room the next start records those results
    (before: the status files could not be written and those runs were lost)."""
    marks = tmp_path / "marks"
    cfg = _config(tmp_path, marks)
    with small_disk(tmp_path / ".coopy") as disk:
        engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=tmp_path / "output.txt")
        restarted = engine
        try:
            poll(lambda: len(of_kind(read_marks(marks), "start")) == 3, 30, "three runs of a to start", 0.02)
            engine.send_signal(signal.SIGKILL)
            engine.wait(timeout=10)
            filler = fill(disk)
            poll(lambda: len(of_kind(read_marks(marks), "end")) == 3, 30, "the running commands to end", 0.05)
            second = tmp_path / "second.txt"
            restarted = coopy_popen("run", str(cfg), cwd=tmp_path, output=second)
            with contextlib.suppress(subprocess.TimeoutExpired):
                restarted.wait(timeout=5)
            said = second.read_text()
            filler.unlink()
            if restarted.returncode is None:  # it started and waits for room: now it goes on by itself
                assert restarted.wait(timeout=120) == 0, second.read_text()[-3000:]
                assert "cannot be written" in said and "disk is full" in said, said
            else:  # it could not even start: one line that says what it could not write; the next start goes on
                assert restarted.returncode == 2, said
                assert said.count("\n") == 1 and "cannot write" in said and "cannot be read" not in said, said
                final = coopy("run", str(cfg), cwd=tmp_path, timeout=120)
                assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
        finally:
            for proc in (engine, restarted):
                if proc.poll() is None:
                    proc.kill()
            kill_all(processes_mentioning(str(tmp_path), environ=True))
        assert "Traceback" not in second.read_text()
        _check_all_once(cfg, marks)
    first_words = said.strip().splitlines()[0][:90] if said.strip() else ""
    report.update({"runs": 2 * TASKS, "lost": 0, "ran twice": 0, "while full": first_words.replace("|", "/")})


def test_state_disk_full_at_the_first_start_is_one_line_about_writing(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    cfg = _config(tmp_path, marks)
    with small_disk(tmp_path / ".coopy", size="64k") as disk:
        fill(disk)
        out = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert "cannot write" in out.stderr and "cannot be read" not in out.stderr, out.stderr
    assert not marks.exists(), "nothing started"


def test_a_start_on_a_full_disk_with_a_store_says_it_cannot_write_it(tmp_path: Path) -> None:
    """The store exists (a first run finished), then the disk fills: the next start cannot write the store and
    says so in one line (before: "the state store cannot be read")."""
    marks = tmp_path / "marks"
    cfg = _config(tmp_path, marks)
    cfg.write_text(cfg.read_text().replace(f"i = {list(range(TASKS))}", "i = [0]").replace('"2"', '"0"'))
    with small_disk(tmp_path / ".coopy") as disk:
        assert coopy("run", str(cfg), cwd=tmp_path, timeout=60).returncode == 0
        assert not (disk / "state.sqlite-wal").exists(), "a closed store leaves no WAL: the next open makes one"
        fill(disk)
        cfg.write_text(cfg.read_text().replace("i = [0]", "i = [0, 1]"))  # a new configuration to record
        out = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert "cannot write the state store" in out.stderr and "disk is full" in out.stderr, out.stderr
    assert starts(read_marks(marks)) == {("a", "i=0"): 1, ("b", "i=0"): 1}, "nothing new started"
