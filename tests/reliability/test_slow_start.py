"""An engine whose start takes long (a big new input to hash, a slow plug-in) still answers the user truthfully:
`coopy run --detach` waits for it and says it started (never "no engine answered" while it goes on to run
everything), and `coopy stop` during the start stops it before it starts any run."""

from __future__ import annotations

import json
import os
from pathlib import Path

from coopy_core.state.store import EngineLock
from tests.helpers.cli import coopy, coopy_popen
from tests.helpers.processes import kill_all, processes_mentioning
from tests.helpers.waiting import wait_for

SLOW = 25.0  # seconds the background engine's start takes: longer than the 20 s a start used to be given

PLUGIN = f"""
import sys, time
from coopy_core import Scripter

class SlowFirstRecipe(Scripter):
    # Slow to make its first command in the background engine, as hashing a big new input is: the engine
    # holds the state dir and has not bound its socket yet.
    slow = "daemon" in sys.argv[0]

    def script(self, task, attempt):
        if SlowFirstRecipe.slow:
            SlowFirstRecipe.slow = False
            time.sleep({SLOW})
        return super().script(task, attempt)
"""

CONFIG = """
[pipeline]
state_dir = ".coopy"

[tasks.matrix]
seed = [0, 1, 2]

[[stages]]
name = "train"
workers = 3
command = "echo {{seed}} >> {root}/marks.txt"
shell = true
scripter = "slowplugin:SlowFirstRecipe"
"""


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "slowplugin.py").write_text(PLUGIN)
    cfg = root / "coopy.toml"
    cfg.write_text(CONFIG.format(root=root))
    return cfg


def _marks(root: Path) -> list[str]:
    path = root / "marks.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_detach_waits_for_a_slow_start_and_says_it_started(tmp_path: Path) -> None:
    cfg = _project(tmp_path / "p")
    root = cfg.parent
    try:
        answer = coopy("run", "--detach", str(cfg), cwd=root, timeout=SLOW + 120)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert "engine started in the background" in answer.stdout
        assert "still starting" in answer.stderr  # said once while it waited
        wait_for(lambda: len(_marks(root)) == 3, "the three runs", timeout=120)
        stopped = coopy("stop", str(cfg), cwd=root)
        assert stopped.returncode == 0, stopped.stderr
    finally:
        kill_all(processes_mentioning(str(root)))
    assert sorted(_marks(root)) == ["0", "1", "2"]


def test_stop_during_a_slow_start_stops_the_engine_before_any_run(tmp_path: Path) -> None:
    cfg = _project(tmp_path / "p")
    root = cfg.parent
    detached = coopy_popen("run", "--detach", str(cfg), cwd=root, output=tmp_path / "detach.out")
    try:
        holder = {"pid": None}

        def starting() -> bool:
            holder["pid"] = EngineLock.holder(root / ".coopy") if (root / ".coopy").exists() else None
            return holder["pid"] is not None

        wait_for(starting, "the background engine to take its state dir", timeout=60)
        answer = coopy("stop", str(cfg), cwd=root)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert "engine stopping" in answer.stdout
        pid = holder["pid"]
        assert isinstance(pid, int)
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), "the engine to exit", timeout=SLOW + 60)
        detached.wait(timeout=SLOW + 60)
        assert _marks(root) == []
        status = coopy("status", str(cfg), "--json", cwd=root)
        assert status.returncode == 0, status.stderr
        assert {r["state"] for r in json.loads(status.stdout)["runs"]} <= {"queued", "waiting"}
    finally:
        if detached.poll() is None:
            detached.kill()
        kill_all(processes_mentioning(str(root)))
    assert os.path.exists(root / ".coopy")
