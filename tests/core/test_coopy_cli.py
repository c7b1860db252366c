"""The headless CLI and the engine's promises around it: import hygiene, one engine per
state dir, `coopy status --json` keys, `coopy run` exit codes (0, 1, 2, 130 with the
running commands left running and adopted by the next run), `coopy init`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coopy_core import Engine, RunState, StateError, load_config
from tests.helpers.cli import coopy, coopy_popen
from tests.helpers.engine import EngineFactory, run_of, wait_finished, wait_state, wait_until, write_config
from tests.helpers.processes import kill_all, processes_mentioning, session_members, wait_gone
from tests.helpers.waiting import poll


@pytest.mark.parametrize("heavy", ["textual", "ray"])
def test_import_coopy_core_does_not_load_textual(heavy: str) -> None:
    """Neither the UI toolkit nor Ray (an optional extra) comes with `import coopy_core`, nor with any of its
    modules (executors/ray.py included); Ray only once a Ray job is submitted."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import coopy_core\n"
        f"heavy = {heavy!r}\n"
        "after_package = [m for m in sys.modules if m.split('.')[0] == heavy]\n"
        "for info in pkgutil.walk_packages(coopy_core.__path__, 'coopy_core.'):\n"
        "    importlib.import_module(info.name)\n"
        "from coopy_core.executors import make_executor\n"
        "from coopy_core.executors.ray import RayExecutor\n"
        "RayExecutor(None)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == heavy)\n"
        "print(after_package, loaded)\n"
        "sys.exit(1 if loaded or after_package else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{heavy} was imported: {result.stdout}{result.stderr}"


def _simple(tmp: Path, command: str = '["true"]', tasks: str = "x = [1, 2]") -> Path:
    return write_config(
        tmp,
        f"""
        [pipeline]
        name = "cli"
        poll_interval = 30

        [tasks.matrix]
        {tasks}

        [[stages]]
        name = "one"
        workers = 2
        command = {command}

        [[stages]]
        name = "two"
        command = ["true"]
        """,
    )


async def test_one_engine_per_state_dir(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = _simple(tmp_path, command='["sleep", "300"]')
    first = await start_engine(path)
    second = Engine(load_config(path))
    with pytest.raises(StateError, match="another coopy engine"):
        await second.start()
    result = await asyncio.to_thread(coopy, "run", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "another coopy engine" in result.stderr and "Traceback" not in result.stderr
    status = json.loads((await asyncio.to_thread(coopy, "status", str(path), "--json", cwd=tmp_path)).stdout)
    assert status["engine_pid"] is not None  # status reads; it neither waits for nor takes the lock
    await first.shutdown(stop_running=True)
    third = await start_engine(path)  # the lock went with the first engine
    assert third.snapshot().tasks == ("x=1", "x=2")


def test_run_exit_0_and_status_json_schema(tmp_path: Path) -> None:
    path = _simple(tmp_path)
    empty = coopy("status", str(path), "--json", cwd=tmp_path)  # before any run: starts nothing
    assert empty.returncode == 0 and json.loads(empty.stdout)["runs"] == []
    assert not (tmp_path / ".coopy").exists()

    result = coopy("run", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    status = coopy("status", str(path), "--json", cwd=tmp_path)
    assert status.returncode == 0
    data = json.loads(status.stdout)
    assert {"stages", "runs"} <= set(data)
    assert [s["name"] for s in data["stages"]] == ["one", "two"]
    for stage in data["stages"]:
        assert {"name", "workers", "paused", "counts"} <= set(stage)
        assert set(stage["counts"]) >= {"queued", "running", "done", "failed", "skipped", "cancelled"}
        assert stage["counts"]["done"] == 2
    assert len(data["runs"]) == 4
    for run in data["runs"]:
        assert {"task", "stage", "attempt", "state", "exit_code", "priority", "log"} <= set(run)
        assert (run["state"], run["attempt"], run["exit_code"]) == ("done", 1, 0)
        assert Path(run["log"]).exists()
    text = coopy("status", str(path), cwd=tmp_path)
    assert text.returncode == 0 and "one" in text.stdout
    again = coopy("run", str(path), cwd=tmp_path)  # all done already: nothing runs again
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = json.loads(coopy("status", str(path), "--json", cwd=tmp_path).stdout)
    assert [(r["attempt"], r["state"]) for r in rerun["runs"]] == [(1, "done")] * 4


def test_run_exit_1_when_some_fail(tmp_path: Path) -> None:
    path = _simple(tmp_path, command='["sh", "-c", "[ $0 = 1 ]", "{x}"]')
    result = coopy("run", str(path), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(coopy("status", str(path), "--json", cwd=tmp_path).stdout)
    states = {(r["stage"], r["task"]): r["state"] for r in data["runs"]}
    assert states == {
        ("one", "x=1"): "done",
        ("one", "x=2"): "failed",
        ("two", "x=1"): "done",
        ("two", "x=2"): "blocked",
    }


def test_run_exit_2_on_config_error(tmp_path: Path) -> None:
    path = _simple(tmp_path, command='["echo", "{y}"]')
    result = coopy("run", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "stages[0].command" in result.stderr
    assert not (tmp_path / ".coopy").exists()


def test_sigint_leaves_commands_running_and_next_run_adopts_them(tmp_path: Path) -> None:
    marker = f"coopy-sigint-{tmp_path.name}"
    (tmp_path / "gates").mkdir()
    command = (
        f'["sh", "-c", "until [ -e gates/go ]; do sleep 0.05; done; echo $0 >> markers.txt", "{{task}}", "{marker}"]'
    )
    path = _simple(tmp_path, command=command)
    output = tmp_path / "out.txt"
    try:
        proc = coopy_popen("run", str(path), cwd=tmp_path, output=output)
        deadline = time.monotonic() + 30
        while len(processes_mentioning(marker)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.02)
        before = json.loads(coopy("status", str(path), "--json", cwd=tmp_path).stdout)
        pids = sorted(r["pid"] for r in before["runs"] if r["state"] == "running")
        assert len(pids) == 2
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert "left running" in output.read_text()
        assert len(processes_mentioning(marker)) >= 2  # still running without an engine
        after = json.loads(coopy("status", str(path), "--json", cwd=tmp_path).stdout)
        assert after["engine_pid"] is None
        assert [r["state"] for r in after["runs"]] == ["running", "running"]

        again = coopy_popen("run", str(path), cwd=tmp_path, output=output)
        deadline = time.monotonic() + 30
        while json.loads(coopy("status", str(path), "--json", cwd=tmp_path).stdout)["engine_pid"] is None:
            assert again.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.05)
        (tmp_path / "gates" / "go").touch()
        assert again.wait(timeout=60) == 0, output.read_text()
    finally:
        kill_all(processes_mentioning(marker))
    assert sorted((tmp_path / "markers.txt").read_text().split()) == ["x=1", "x=2"]  # once each
    final = json.loads(coopy("status", str(path), "--json", cwd=tmp_path).stdout)
    first = {r["task"]: r for r in final["runs"] if r["stage"] == "one"}
    assert sorted(r["pid"] for r in first.values()) == pids  # adopted, not started again
    assert {(r["attempt"], r["state"]) for r in first.values()} == {(1, "done")}


async def test_stop_running_puts_runs_back_in_the_queue(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = _simple(tmp_path, command='["sleep", "300"]', tasks="x = [1]")
    engine = await start_engine(path)
    run = await wait_state(engine, "x=1", "one", RunState.RUNNING)
    await engine.shutdown(stop_running=True)
    assert session_members(run.pid or 0) == []  # stopped before shutdown returned
    again = await start_engine(path)
    rerun = await wait_state(again, "x=1", "one", RunState.RUNNING)
    assert rerun.attempt == 2 and rerun.pid != run.pid


async def test_stop_running_starts_nothing_while_stopping(tmp_path: Path, start_engine: EngineFactory) -> None:
    """While shutdown(stop_running=True) waits for a run that is slow to die, a retry whose
    backoff ends meanwhile must not start a process that nobody will stop."""
    marker = f"stopping-{tmp_path.name}"
    path = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 30

        [tasks.named]
        slow = {{ mode = "slow" }}
        flaky = {{ mode = "flaky" }}

        [[stages]]
        name = "s"
        workers = 2
        retries = 1
        backoff = 1.5
        command = ["sh", "-c", "[ $1 = flaky ] && [ $2 = 1 ] && exit 1; sleep 300; :",
                   "{marker}", "{{mode}}", "{{attempt}}"]
        """,
    )
    engine = await start_engine(path)
    slow = await wait_state(engine, "slow", "s", RunState.RUNNING)
    await wait_until(
        lambda: (r := run_of(engine, "flaky", "s")) is not None and r.state == RunState.QUEUED and r.attempt == 1,
        "flaky's first failure, queued for a retry in 1.5 s",
    )
    try:
        os.kill(slow.pid or 0, signal.SIGSTOP)  # its wrapper now dies only at the SIGKILL after the grace
        await engine.shutdown(stop_running=True)
        await wait_gone(lambda: processes_mentioning(marker), "the runs shutdown stopped")  # none started meanwhile
    finally:
        kill_all(processes_mentioning(marker))
    again = await start_engine(path)  # both are back in the queue, nothing is running unwatched
    flaky = await wait_state(again, "flaky", "s", RunState.RUNNING)
    assert flaky.attempt == 2


async def test_stop_running_keeps_a_run_that_had_already_finished(tmp_path: Path, start_engine: EngineFactory) -> None:
    """A command ends on its own just before shutdown(stop_running=True), before the engine has
    noticed (its loop was busy): that finished work must count, not be queued to run again."""
    (tmp_path / "gates").mkdir()
    path = _simple(
        tmp_path,
        command='["sh", "-c", "until [ -e gates/go ]; do sleep 0.02; done; echo ran >> ran.txt"]',
        tasks="x = [1]",
    )
    engine = await start_engine(path)
    await wait_state(engine, "x=1", "one", RunState.RUNNING)
    (tmp_path / "gates" / "go").touch()
    deadline = time.monotonic() + 20
    while not (tmp_path / "ran.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.02)  # blocking on purpose: the engine cannot see the end yet
    poll(lambda: not processes_mentioning("gates/go"), 20, "the wrapper to record the exit status and end", 0.02)
    await engine.shutdown(stop_running=True)
    again = await start_engine(path)
    assert await wait_finished(again)
    assert (tmp_path / "ran.txt").read_text() == "ran\n"  # executed once
    first = run_of(again, "x=1", "one")
    assert first is not None and (first.attempt, first.state) == (1, RunState.DONE)


def test_init_writes_a_valid_config(tmp_path: Path) -> None:
    result = coopy("init", "new.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new.toml").exists()
    valid = coopy("validate", "new.toml", cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    assert "ok" in valid.stdout
    again = coopy("init", "new.toml", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    default = coopy("init", cwd=tmp_path)
    assert default.returncode == 0 and (tmp_path / "coopy.toml").exists()
