"""The background engine: the pipeline flows with no screen; clients attach, steer and leave.

Real daemons (`python -m coopy_core.wire.daemon`), real sockets, real commands writing marker lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coopy_core import load_config
from coopy_core.config import Config
from coopy_core.model import Event, EventKind
from coopy_core.wire.daemon import connect, ensure_engine
from coopy_core.wire.remote import EngineUnavailable
from coopy_core.wire.server import socket_path

DEADLINE = 40.0


def coopy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coopy_core.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def status(cfg: Path) -> dict:
    out = coopy("status", str(cfg), "--json", cwd=cfg.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    return True


def write_pipeline(tmp: Path, train_seconds: float = 0.3, tasks: int = 4, prep_seconds: float = 0) -> Path:
    seeds = ", ".join(str(i) for i in range(tasks))
    (tmp / "coopy.toml").write_text(
        textwrap.dedent(
            f"""
            [pipeline]
            name = "bg"
            poll_interval = 0.5
            [tasks.matrix]
            seed = [{seeds}]
            [[stages]]
            name = "prep"
            command = ["sh", "-c", "sleep {prep_seconds}; echo prep $0 >> marks.txt", "{{task}}"]
            workers = 2
            [[stages]]
            name = "train"
            command = ["sh", "-c", "sleep {train_seconds}; echo train $0 >> marks.txt", "{{task}}"]
            workers = 2
            [[stages]]
            name = "eval"
            command = ["sh", "-c", "echo eval $0 >> marks.txt", "{{task}}"]
            workers = 2
            """
        ).lstrip()
    )
    return tmp / "coopy.toml"


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Callable[..., tuple[Path, Config]]]:
    made: list[Config] = []

    def make(**kw: float) -> tuple[Path, Config]:
        path = write_pipeline(tmp_path, **kw)  # type: ignore[arg-type]
        config = load_config(path)
        made.append(config)
        return path, config

    yield make
    for config in made:
        with contextlib.suppress(EngineUnavailable):
            client = connect(config)
            pid = client.info["pid"]
            client.stop(stop_running=True)
            client.close()
            wait_for(lambda pid=pid: not alive(pid), "engine to stop", 15)


def marks(cfg: Path) -> list[str]:
    path = cfg.parent / "marks.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_detached_engine_finishes_the_pipeline_with_no_screen(pipeline) -> None:
    cfg, config = pipeline()
    out = coopy("run", "--detach", str(cfg), cwd=cfg.parent)
    assert out.returncode == 0, out.stderr
    assert "in the background" in out.stdout
    wait_for(
        lambda: all(r["state"] == "done" for r in status(cfg)["runs"]) and len(status(cfg)["runs"]) == 12,
        "every run done",
    )
    live = status(cfg)
    assert live["live"] is True and live["engine_pid"]
    assert sorted(marks(cfg)) == sorted(f"{s} seed={i}" for s in ("prep", "train", "eval") for i in range(4))
    log = (config.state_dir / "engine.log").read_text()
    assert "train/seed=3 attempt 1 done" in log  # the engine logs its own events in the state dir
    # where the start left each stage, in one line (its runs' own lines start after it)
    assert all(f"stage {s} started with " in log for s in ("prep", "train", "eval"))
    stop = coopy("stop", str(cfg), cwd=cfg.parent)
    assert stop.returncode == 0, stop.stderr
    wait_for(lambda: not socket_path(config.state_dir).exists(), "socket removed at stop")
    assert status(cfg)["engine_pid"] is None


def test_socket_is_private_to_its_owner(pipeline) -> None:
    cfg, config = pipeline(train_seconds=5)
    client, started = ensure_engine(config, events=False)
    try:
        assert started
        mode = socket_path(config.state_dir).stat()
        assert stat.S_ISSOCK(mode.st_mode)
        assert stat.S_IMODE(mode.st_mode) == 0o600
        assert mode.st_uid == os.getuid()
    finally:
        client.close()


def test_two_viewers_see_each_others_commands_at_once(pipeline) -> None:
    cfg, config = pipeline(train_seconds=5)
    first, _ = ensure_engine(config, events=False)
    first.close()
    seen_a: list[Event] = []
    seen_b: list[Event] = []

    async def scenario() -> None:
        a = connect(config, events=True)
        b = connect(config, events=True)
        try:
            assert a.snapshot().pipeline == b.snapshot().pipeline == "bg"
            a.subscribe(seen_a.append)
            b.subscribe(seen_b.append)
            a.pause("eval")
            b.set_workers("train", 3)
            deadline = time.monotonic() + DEADLINE

            def got(events: list[Event]) -> bool:
                kinds = [
                    (e.stage.name, e.stage.paused, e.stage.workers)
                    for e in events
                    if e.kind == EventKind.STAGE and e.stage
                ]
                return ("eval", True, 2) in kinds and ("train", False, 3) in kinds

            while not (got(seen_a) and got(seen_b)):
                assert time.monotonic() < deadline, "both viewers should see both commands"
                await asyncio.sleep(0.02)
            sa = {s.name: (s.paused, s.workers) for s in a.snapshot().stages}
            sb = {s.name: (s.paused, s.workers) for s in b.snapshot().stages}
            assert sa == sb
            assert sa["eval"] == (True, 2) and sa["train"] == (False, 3)
            seqs = [e.seq for e in seen_a]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        finally:
            a.close()
            b.close()

    asyncio.run(scenario())


def test_cli_commands_reach_the_running_engine(pipeline) -> None:
    cfg, config = pipeline(train_seconds=30, tasks=6, prep_seconds=3)  # the pause lands before any train
    assert coopy("run", "--detach", str(cfg), cwd=cfg.parent).returncode == 0
    assert coopy("pause", str(cfg), "train", cwd=cfg.parent).returncode == 0
    wait_for(
        lambda: sum(r["stage"] == "train" and r["state"] == "queued" for r in status(cfg)["runs"]) == 6,
        "all six queued at the paused train stage",
    )
    out = coopy("bump", str(cfg), "train", "seed=5", "--by", "3", cwd=cfg.parent)
    assert out.returncode == 0 and "priority 3" in out.stdout, out.stderr
    assert coopy("top", str(cfg), "train", "seed=4", cwd=cfg.parent).returncode == 0
    client = connect(config)
    try:
        order = client.queue_order("train")
        assert order[:2] == ["seed=4", "seed=5"]
        assert coopy("cancel", str(cfg), "train", "seed=0", cwd=cfg.parent).returncode == 0
        assert coopy("workers", str(cfg), "train", "1", cwd=cfg.parent).returncode == 0
        added = coopy("add", str(cfg), "seed=42", cwd=cfg.parent)
        assert added.returncode == 0 and "seed=42" in added.stdout, added.stderr
        assert coopy("resume", str(cfg), "train", cwd=cfg.parent).returncode == 0
        wait_for(
            lambda: any(
                r["task"] == "seed=4" and r["stage"] == "train" and r["state"] == "running" for r in status(cfg)["runs"]
            ),
            "the topped run to start first",
        )
        snap = client.snapshot()
        stages = {s.name: s for s in snap.stages}
        assert stages["train"].workers == 1 and not stages["train"].paused
        assert stages["train"].counts["running"] == 1
        runs = {(r.task, r.stage): r for r in snap.runs}
        assert runs[("seed=0", "train")].state.value == "cancelled"
        assert "seed=42" in snap.tasks
        assert coopy("retry", str(cfg), "train", "seed=0", cwd=cfg.parent).returncode == 0
        assert (
            client.snapshot()
            and {(r.task, r.stage): r for r in client.snapshot().runs}[("seed=0", "train")].state.value == "queued"
        )
        bad = coopy("retry", str(cfg), "train", "seed=1", cwd=cfg.parent)
        assert bad.returncode == 2 and "only failed or cancelled" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        client.close()


def test_commands_without_an_engine_say_how_to_start_one(pipeline) -> None:
    cfg, _config = pipeline()
    out = coopy("pause", str(cfg), "train", cwd=cfg.parent)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "coopy run --detach" in out.stderr


def test_stale_socket_after_sigkill_is_replaced_and_runs_are_readopted(pipeline) -> None:
    cfg, config = pipeline(train_seconds=4, tasks=2)
    client, started = ensure_engine(config, events=False)
    pid = client.info["pid"]
    client.close()
    assert started
    wait_for(
        lambda: sum(r["stage"] == "train" and r["state"] == "running" for r in status(cfg)["runs"]) == 2,
        "both train runs running",
    )
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), "the engine to die")
    assert socket_path(config.state_dir).exists(), "a killed engine leaves its socket behind"
    with pytest.raises(EngineUnavailable):
        connect(config)
    client, started = ensure_engine(config, events=False)
    try:
        assert started and client.info["pid"] != pid
        wait_for(
            lambda: len(status(cfg)["runs"]) == 6 and all(r["state"] == "done" for r in status(cfg)["runs"]),
            "the pipeline to finish under the new engine",
        )
    finally:
        client.close()
    lines = marks(cfg)
    for stage in ("prep", "train", "eval"):
        for task in ("seed=0", "seed=1"):
            assert lines.count(f"{stage} {task}") == 1, f"{stage} {task} ran {lines.count(f'{stage} {task}')} times"


def test_status_of_a_live_engine_names_the_runs_worth_naming_and_counts_the_rest(tmp_path: Path) -> None:
    """`coopy status` asks the engine for its summary: stage counts, and one by one only the runs running,
    blocked, failed or cancelled (not every queued run: at 100,000 configurations the whole snapshot took
    3.3 s to send, the summary 0.7 s)."""
    cfg = tmp_path / "coopy.toml"
    cfg.write_text(
        textwrap.dedent("""
        [tasks.matrix]
        i = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        [[stages]]
        name = "work"
        workers = 2
        command = ["sh", "-c", "[ {i} != 0 ] || exit 3; sleep 60"]
        [[stages]]
        name = "after"
        command = ["true"]
    """)
    )
    out = coopy("run", "--detach", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    try:
        wait_for(
            lambda: [r["state"] for r in status(cfg)["runs"] if r["stage"] == "work"].count("running") == 2,
            "two runs running after the first failed",
        )
        client = connect(load_config(cfg))
        try:
            brief = client.summary()
        finally:
            client.close()
        named = {(r["stage"], r["task"]): r["state"] for r in brief["runs"]}
        assert named[("work", "i=0")] == "failed" and named[("after", "i=0")] == "blocked"
        assert sorted(named.values()) == ["blocked", "failed", "running", "running"]  # no queued run sent
        work = next(s for s in brief["stages"] if s["name"] == "work")
        assert (work["counts"]["queued"], work["counts"]["running"], work["counts"]["failed"]) == (9, 2, 1)
        assert brief["tasks"] == 12

        human = coopy("status", str(cfg), cwd=tmp_path)
        assert human.returncode == 0, human.stderr
        assert "work  workers 2: queued 9, running 2, done 0, skipped 0, failed 1" in human.stdout
        assert "failed: work/i=0 attempt 1" in human.stdout and "exit code 3" in human.stdout
        assert "blocked: after/i=0" in human.stdout
    finally:
        coopy("stop", str(cfg), "--stop-running", cwd=tmp_path)


def test_status_of_an_engine_without_the_summary_command_falls_back_to_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background engine started by an older CooPy answers `summary` with "unknown command": `coopy status`
    (after an upgrade, while that engine runs) reads the whole snapshot instead of failing."""
    from coopy_core.wire.live import live_status
    from coopy_core.wire.remote import RemoteCommandError, RemoteEngine

    cfg = tmp_path / "coopy.toml"
    cfg.write_text('[tasks.matrix]\ni = [0, 1, 2]\n[[stages]]\nname = "work"\nworkers = 1\ncommand = ["sleep", "60"]\n')
    out = coopy("run", "--detach", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    try:
        config = load_config(cfg)
        wait_for(lambda: any(r["state"] == "running" for r in status(cfg)["runs"]), "a run running")

        def old_engine(self: RemoteEngine) -> dict:
            raise RemoteCommandError("unknown command 'summary'")

        monkeypatch.setattr(RemoteEngine, "summary", old_engine)
        live = live_status(config, summary=True)
        assert live is not None and live["live"] is True
        assert sorted(r["state"] for r in live["runs"]) == ["queued", "queued", "running"]  # the snapshot's runs
    finally:
        coopy("stop", str(cfg), "--stop-running", cwd=tmp_path)
