"""A configuration removed from the config is not run; its runs are kept and shown as `removed` (README: Config
drift is never silent) — by the running engine too: `Engine.snapshot()` and `coopy status --json` served live
by a running `coopy run` list them as the store-read `coopy status` does once the engine is gone."""

from __future__ import annotations

from pathlib import Path

from coopy_core import RunState
from tests.helpers.cli import coopy, coopy_popen, status
from tests.helpers.engine import EngineFactory, run_of, wait_until, write_config
from tests.helpers.processes import kill_all, processes_mentioning
from tests.helpers.waiting import wait_for

# x=3 (added later) holds its first stage until the file `go` exists, so the engine keeps running meanwhile.
BODY = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
x = [1, 2]
[[stages]]
name = "a"
workers = 2
command = ["sh", "-c", "while [ $0 = 3 ] && [ ! -e go ]; do sleep 0.05; done", "{x}"]
[[stages]]
name = "b"
command = ["true"]
"""


def removed(runs: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(r["stage"], r["task"]) for r in runs if r["state"] == "removed"}


def first_pass_then_replace_x2_by_x3(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path, BODY)
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    cfg.write_text(cfg.read_text().replace("x = [1, 2]", "x = [1, 3]"))
    return cfg


async def test_the_in_process_engine_shows_removed_configurations(tmp_path: Path, start_engine: EngineFactory) -> None:
    cfg = first_pass_then_replace_x2_by_x3(tmp_path)
    engine = await start_engine(cfg)
    try:
        await wait_until(lambda: (r := run_of(engine, "x=3", "a")) is not None and r.state == RunState.RUNNING, "x=3")
        views = [r for r in engine.snapshot().runs if r.task == "x=2"]
        assert {(r.stage, r.state) for r in views} == {("a", RunState.REMOVED), ("b", RunState.REMOVED)}
        assert all(r.reason == "configuration removed (done)" for r in views), views
        live = [r.as_json() for r in engine.snapshot().runs]
        assert removed(live) == {("a", "x=2"), ("b", "x=2")}
        assert "x=2" not in engine.snapshot().tasks
    finally:
        (tmp_path / "go").touch()


def test_coopy_status_through_a_running_engine_shows_removed_configurations(tmp_path: Path) -> None:
    cfg = first_pass_then_replace_x2_by_x3(tmp_path)
    engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=tmp_path / "run.out")
    try:
        wait_for(
            lambda: (
                (s := status(cfg)).get("live")
                and any(r["task"] == "x=3" and r["state"] == "running" for r in s["runs"])
            ),
            "the engine to run x=3 and answer `coopy status`",
        )
        live = status(cfg)
        assert live["engine_pid"] == engine.pid
        assert removed(live["runs"]) == {("a", "x=2"), ("b", "x=2")}, live["runs"]
        (tmp_path / "go").touch()
        assert engine.wait(timeout=60) == 0, (tmp_path / "run.out").read_text()
    finally:
        (tmp_path / "go").touch()
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        kill_all(processes_mentioning(str(tmp_path), environ=True))
    stored = status(cfg)
    assert stored.get("live") is None and stored["engine_pid"] is None
    assert removed(stored["runs"]) == removed(live["runs"]), "the live view and the store's say the same"
    assert {r["state"] for r in stored["runs"] if r["task"] == "x=3"} == {"done"}
