"""Crash and resume: at least 50 SIGKILLs of `coopy run` at seeded random moments (from its start-up to the middle
of dispatching) over a pipeline of three stages (prepare -> train -> a fan-in over every configuration) with
planned failures, retries and hooks. Every execution is counted by the marker lines its command writes: each run
exactly once plus its planned retries, every hook exactly once per event, no two copies of a run ever alive at
once, nothing left running at the end."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import coopy_argv, status
from tests.helpers.engine import write_config
from tests.helpers.marks import of_kind, read_marks, starts, step_argv
from tests.helpers.processes import kill_all, processes_mentioning, wait_no_processes

TASKS = 40
KILLS = 50
SEED = 20261201
BAD = "c_bad"  # fails every prepare attempt: failed for good after its retries (the on_failed hook fires)
PREPARE_RETRIES, TRAIN_RETRIES = 2, 1


def _tasks() -> dict[str, tuple[int, int]]:
    """Configuration -> (prepare attempts that fail, train attempts that fail), all planned."""
    planned = {f"c{i:02d}": (1 if i % 5 == 0 else 0, 1 if i % 7 == 3 else 0) for i in range(TASKS)}
    planned[BAD] = (99, 0)
    return planned


def _config(tmp: Path, marks: Path, hooks: Path, local_start: str) -> Path:
    named = "\n".join(f'"{name}" = {{ pf = {pf}, tf = {tf} }}' for name, (pf, tf) in _tasks().items())
    hook = f'["sh", "-c", "echo \\"$1 $2 $3 $4\\" >> {hooks}", "sh"'
    return write_config(
        tmp,
        f"""
        [pipeline]
        name = "crash"
        poll_interval = 0.5
        local_start = "{local_start}"
        on_finished = {hook}, "on_finished", "{{state}}", "-", "-"]
        [tasks.named]
        {named}
        [[stages]]
        name = "prepare"
        workers = 4
        retries = {PREPARE_RETRIES}
        backoff = 0.2
        command = {step_argv(marks, "--seconds", "0.4", "--fail-attempts", "{pf}")}
        on_failed = {hook}, "on_failed", "{{stage}}", "{{task}}", "{{attempt}}"]
        [[stages]]
        name = "train"
        workers = 3
        retries = {TRAIN_RETRIES}
        backoff = 0.2
        command = {step_argv(marks, "--seconds", "2.5", "--fail-attempts", "{tf}", "--upstream", "prepare")}
        on_done = {hook}, "on_done", "{{stage}}", "{{task}}", "{{attempt}}"]
        [[stages]]
        name = "all"
        over = []
        needs = ["train"]
        allow_failed = true
        command = {step_argv(marks, "--seconds", "0.3", "--upstream-any", "train")}
        on_done = {hook}, "on_done", "{{stage}}", "{{task}}", "{{attempt}}"]
        """,
    )


@pytest.mark.parametrize("local_start", ["wrapper", "helper"])
def test_fifty_sigkills_at_random_moments_lose_nothing_and_run_nothing_twice(
    tmp_path: Path, report: dict[str, Any], local_start: str
) -> None:
    """With either start: a wrapper per run, or the spawn helper (which outlives each killed engine)."""
    rng = random.Random(SEED)
    marks, hooks = tmp_path / "marks", tmp_path / "hooks.txt"
    cfg = _config(tmp_path, marks, hooks, local_start)
    kills, moments = 0, []
    try:
        while kills < KILLS:
            proc = subprocess.Popen(
                [*coopy_argv(), "run", str(cfg)],
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            moment = rng.uniform(0.05, 1.1)
            time.sleep(moment)
            if proc.poll() is not None:
                raise AssertionError(f"the pipeline ended after {kills} kills: too little work for {KILLS}")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            moments.append(moment)
        final = subprocess.run(
            [*coopy_argv(), "run", str(cfg)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert final.returncode == 1, f"c_bad fails for good: exit 1; got {final.returncode}: {final.stderr[-2000:]}"
        wait_no_processes(str(tmp_path), "nothing of the pipeline left running")
    finally:
        kill_all(processes_mentioning(str(tmp_path), environ=True))

    found = read_marks(marks)
    assert of_kind(found, "overlap") == [], "two copies of a run were alive at once"
    expected: Counter[tuple[str, str]] = Counter()
    for name, (pf, tf) in _tasks().items():
        expected[("prepare", name)] = min(pf, PREPARE_RETRIES) + 1
        if name != BAD:
            expected[("train", name)] = min(tf, TRAIN_RETRIES) + 1
    expected[("all", "all")] = 1
    ran = starts(found)
    assert {k: v for k, v in ran.items() if v != expected[k]} == {}, "a run ran more (or less) than planned"
    assert set(ran) == set(expected), f"never ran: {set(expected) - set(ran)}"
    # every execution went to its end; each stage's run started only after what it needs ended
    assert len(of_kind(found, "end")) + len(of_kind(found, "fail")) == sum(expected.values())
    order = {(m.kind, m.stage, m.run, m.attempt): i for i, m in enumerate(found)}
    for name in _tasks():
        if name == BAD:
            continue
        last_prepare = order[("end", "prepare", name, expected[("prepare", name)])]
        assert last_prepare < order[("start", "train", name, 1)], f"{name}: train started before prepare ended"
    first_all = order[("start", "all", "all", 1)]
    assert all(i < first_all for (kind, stage, _r, _a), i in order.items() if stage == "train" and kind != "start")

    said = Counter(hooks.read_text().splitlines())
    done = [f"on_done train {n} {expected[('train', n)]}" for n in _tasks() if n != BAD] + ["on_done all all 1"]
    wanted = Counter(done + [f"on_failed prepare {BAD} {PREPARE_RETRIES + 1}", "on_finished failed - -"])
    assert said == wanted, f"hooks not exactly once: extra {said - wanted}, missing {wanted - said}"

    runs = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
    assert runs[("prepare", BAD)]["state"] == "failed" and runs[("train", BAD)]["state"] == "blocked"
    others = [r for k, r in runs.items() if BAD not in k]
    assert {r["state"] for r in others} == {"done"} and len(others) == 2 * TASKS + 1
    assert all(r["exit_code"] == 0 and Path(r["log"]).exists() for r in others)
    report.update(
        {
            "configurations": len(_tasks()),
            "runs": len(runs),
            "executions": sum(expected.values()),
            "kills survived": kills,
            "first kill moments (s)": ", ".join(f"{m:.2f}" for m in moments[:5]) + ", ...",
            "lost": 0,
            "ran twice": 0,
            "hooks twice": 0,
            "orphans": 0,
        }
    )
