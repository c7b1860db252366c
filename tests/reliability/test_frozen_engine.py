"""A frozen engine (SIGSTOP: Ctrl-Z, a stalled VM, a debugger) must not turn finished work into failures: runs
that ended within their timeout while the engine could not look are judged by what happened — done, their
downstream runs, their hooks fire — not by a timer that fired late."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.helpers.cli import coopy, coopy_popen
from tests.helpers.waiting import wait_for

CONFIG = """
[pipeline]
state_dir = ".coopy"

[tasks.matrix]
seed = [0, 1, 2, 3]

[[stages]]
name = "train"
workers = 4
timeout = 5
command = "sleep 1 && echo {{seed}} >> {root}/trained.txt"
shell = true
on_done = ["sh", "-c", "echo $0 >> {root}/hooks.txt", "{{task}}"]

[[stages]]
name = "evaluate"
workers = 4
command = "echo {{seed}} >> {root}/evaluated.txt"
shell = true
"""


def test_runs_that_finished_while_the_engine_was_stopped_are_done_not_timed_out(tmp_path: Path) -> None:
    cfg = tmp_path / "coopy.toml"
    cfg.write_text(CONFIG.format(root=tmp_path))
    engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=tmp_path / "run.out")

    def all_running() -> bool:
        answer = coopy("status", str(cfg), "--json", cwd=tmp_path)
        if answer.returncode != 0:
            return False
        runs = json.loads(answer.stdout)["runs"]
        return sum(r["stage"] == "train" and r["state"] == "running" for r in runs) == 4

    wait_for(all_running, "the four train runs running", timeout=60)
    os.kill(engine.pid, signal.SIGSTOP)
    try:
        # frozen past the timeout (5 s) while the runs (1 s) finish: wait for their own marks, then 6 s more
        wait_for(
            lambda: (
                (tmp_path / "trained.txt").exists() and len((tmp_path / "trained.txt").read_text().splitlines()) == 4
            ),
            "the four runs to finish while the engine is stopped",
            timeout=60,
        )
        time.sleep(6)  # the scenario itself: a freeze longer than the timeout
    finally:
        os.kill(engine.pid, signal.SIGCONT)
    assert engine.wait(timeout=120) == 0, (tmp_path / "run.out").read_text()
    status = json.loads(coopy("status", str(cfg), "--json", cwd=tmp_path).stdout)
    states = {(r["stage"], r["task"]): (r["state"], r["reason"]) for r in status["runs"]}
    assert all(state == "done" for state, _ in states.values()), states
    assert len((tmp_path / "evaluated.txt").read_text().splitlines()) == 4
    wait_for(
        lambda: (tmp_path / "hooks.txt").exists() and len((tmp_path / "hooks.txt").read_text().splitlines()) == 4,
        "on_done for each of the four runs",
        timeout=60,
    )
