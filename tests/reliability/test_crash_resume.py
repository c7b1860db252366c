"""Crash and resume: SIGKILL the engine at seeded random moments; nothing lost, nothing run twice."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.helpers.cli import status
from tests.helpers.engine import write_config
from tests.helpers.processes import wait_no_processes

TASKS = 40
STAGES = ("prepare", "train", "evaluate")
KILLS = 12
SEED = 20261124

STEP = """#!/bin/sh
# usage: step.sh MARKS STAGE TASK ATTEMPT SECONDS
echo "start $2 $3 $4 $$" >> "$1"
sleep "$5"
echo "end $2 $3 $4 $$" >> "$1"
"""


def test_sigkill_at_random_moments_loses_nothing_and_runs_nothing_twice(tmp_path: Path, report: dict[str, Any]) -> None:
    rng = random.Random(SEED)
    step = tmp_path / "step.sh"
    step.write_text(STEP)
    step.chmod(0o755)
    marks = tmp_path / "marks.txt"
    named = "\n".join(
        f'"c{i:02d}" = {{ d0 = {rng.uniform(0.1, 0.8):.3f}, d1 = {rng.uniform(0.4, 1.4):.3f}, '
        f'd2 = {rng.uniform(0.1, 0.5):.3f} }}'
        for i in range(TASKS)
    )
    stages = "\n".join(
        f"""
[[stages]]
name = "{stage}"
command = ["{step}", "{marks}", "{{stage}}", "{{task}}", "{{attempt}}", "{{d{k}}}"]
workers = {(4, 3, 4)[k]}
"""
        for k, stage in enumerate(STAGES)
    )
    cfg = write_config(
        tmp_path, f'[pipeline]\nname = "crash"\npoll_interval = 0.5\n[tasks.named]\n{named}\n{stages}'
    )
    kills = 0
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "coopy_core.cli", "run", str(cfg)], cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.5, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    final = subprocess.run(
        [sys.executable, "-m", "coopy_core.cli", "run", str(cfg)], cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr[-2000:]
    wait_no_processes(str(tmp_path), "no process of the pipeline left")

    lines = [line.split() for line in marks.read_text().splitlines()]
    starts: dict[tuple[str, str], list[list[str]]] = {}
    ends: dict[tuple[str, str], list[list[str]]] = {}
    for kind, stage, task, attempt, pid in lines:
        (starts if kind == "start" else ends).setdefault((stage, task), []).append([attempt, pid])
    expected = {(stage, f"c{i:02d}") for stage in STAGES for i in range(TASKS)}
    assert set(starts) == expected and set(ends) == expected, "every run ran"
    twice = {k: v for k, v in starts.items() if len(v) != 1}
    assert not twice, f"runs started more than once: {twice}"
    assert all(len(v) == 1 for v in ends.values())
    # the chain order held for every configuration: a stage started only after the previous ended
    order = {(kind, stage, task): n for n, (kind, stage, task, _a, _p) in enumerate(lines)}
    for i in range(TASKS):
        task = f"c{i:02d}"
        for a, b in zip(STAGES, STAGES[1:], strict=False):
            assert order[("end", a, task)] < order[("start", b, task)], f"{task}: {b} started before {a} ended"
    # the store agrees with the files
    state = status(cfg)
    assert len(state["runs"]) == TASKS * len(STAGES)
    assert all(r["state"] == "done" and r["exit_code"] == 0 for r in state["runs"])
    assert all(Path(r["log"]).exists() for r in state["runs"])
    report.update({"configurations": TASKS, "runs": TASKS * len(STAGES), "kills survived": kills, "lost": 0,
                   "ran twice": 0, "orphans": 0})
    assert kills >= 10
