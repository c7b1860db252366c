"""Stages as a graph, with real processes: fan-out, fan-in, diamonds, aggregates, `{inputs}`, blocked runs,
`allow_failed`, configurations added while it runs, a SIGKILL mid-aggregate. Every execution leaves a
marker line; the counts of those lines are what the tests check."""

from __future__ import annotations

import collections
import json
import os
import signal
import time
from pathlib import Path

import pytest

from coopy_core import RunState
from tests.helpers.cli import coopy, coopy_popen, status
from tests.helpers.engine import EngineFactory, run_of, wait_finished, wait_state, write_config
from tests.helpers.processes import kill_all, processes_mentioning

MARK = ["sh", "-c", 'echo "$0 $1" >> marks.txt', "{stage}", "{task}"]


def marks(directory: Path) -> collections.Counter[str]:
    path = directory / "marks.txt"
    return collections.Counter(path.read_text().splitlines() if path.exists() else [])


def mark_lines(directory: Path) -> list[str]:
    return (directory / "marks.txt").read_text().splitlines()


def stage(name: str, *extra: str, command: list[str] = MARK, workers: int = 2) -> str:
    return f'[[stages]]\nname = "{name}"\ncommand = {json.dumps(command)}\nworkers = {workers}\n' + "".join(
        f"{line}\n" for line in extra
    )


def test_diamond_and_per_model_aggregate_run_each_run_exactly_once(tmp_path: Path) -> None:
    body = '[tasks.matrix]\nmodel = ["a", "b", "c"]\nseed = [1, 2]\n' + "".join(
        [
            stage("prepare", 'over = ["model"]'),
            stage("train", 'needs = ["prepare"]'),
            stage("baseline", 'needs = ["prepare"]'),
            stage("compare", 'needs = ["train", "baseline"]'),
            stage("bymodel", 'needs = ["compare"]', 'over = ["model"]'),
            stage("report", 'needs = ["bymodel"]', "over = []"),
        ]
    )
    cfg = write_config(tmp_path, body)
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    counted = marks(tmp_path)
    per_stage = collections.Counter(line.split()[0] for line in counted.elements())
    assert per_stage == {"prepare": 3, "train": 6, "baseline": 6, "compare": 6, "bymodel": 3, "report": 1}
    assert set(counted.values()) == {1}  # each run exactly once
    lines = mark_lines(tmp_path)
    at = {line: i for i, line in enumerate(lines)}
    for model in "abc":
        for seed in (1, 2):
            task = f"model={model},seed={seed}"
            assert at[f"prepare model={model}"] < at[f"train {task}"] < at[f"compare {task}"]
            assert at[f"baseline {task}"] < at[f"compare {task}"] < at[f"bymodel model={model}"]
        assert at[f"bymodel model={model}"] < at["report all"]
    state = status(cfg)
    assert {s["name"]: s["total"] for s in state["stages"]} == {
        "prepare": 3,
        "train": 6,
        "baseline": 6,
        "compare": 6,
        "bymodel": 3,
        "report": 1,
    }
    needs = {s["name"]: s["needs"] for s in state["stages"]}
    assert needs["compare"] == ["train", "baseline"] and needs["train"] == ["prepare"]
    report = next(r for r in state["runs"] if r["stage"] == "report")
    assert report["task"] == "all" and len(report["members"]) == 6 and report["state"] == "done"
    validated = coopy("validate", str(cfg), cwd=tmp_path).stdout
    assert "bymodel" in validated and "over model" in validated and "3 runs" in validated


def test_fan_out_prepare_once_per_dataset_and_seed(tmp_path: Path) -> None:
    body = (
        '[tasks.matrix]\ndataset = ["wine", "iris", "digits"]\nmodel = ["lr", "svm", "rf"]\nseed = [0, 1, 2]\n'
        + stage("prepare", 'over = ["dataset", "seed"]', command=[*MARK[:4], "{dataset}-{seed}"])
        + stage("train", workers=4)
        + stage("summary", "over = []")
    )
    cfg = write_config(tmp_path, body)
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    per_stage = collections.Counter(line.split()[0] for line in marks(tmp_path).elements())
    assert per_stage == {"prepare": 9, "train": 27, "summary": 1}
    assert max(marks(tmp_path).values()) == 1


def test_inputs_are_separate_arguments_and_hostile_values_stay_harmless(tmp_path: Path) -> None:
    samples = ["a b", "x; touch pwned1", "$(touch pwned2)", "`touch pwned3`", "'q'", "--help"]
    named = "".join(f"s{i} = {{ sample = {json.dumps(v)} }}\n" for i, v in enumerate(samples))
    dump = ["python3", "-c", "import json, sys; json.dump(sys.argv[1:], open(sys.argv[1], 'w'))"]
    body = (
        "[tasks.named]\n"
        + named
        + stage("make", command=["sh", "-c", 'printf %s "$0" > "in/$1.txt"', "{sample}", "{task}"])
        + 'cwd = "."\n'
        + stage("collect", "over = []", 'inputs = ["in/{task}.txt"]', command=[*dump, "args.json", "{inputs}"])
        + stage(
            "shelled",
            'needs = ["make"]',
            "over = []",
            'inputs = ["in/{sample}.txt"]',
            "shell = true",
            command=["printf '%s\\n' {inputs} > shell-args.txt"],
        )
    )
    (tmp_path / "in").mkdir()
    cfg = write_config(tmp_path, body)
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    argv = json.loads((tmp_path / "args.json").read_text())
    assert argv == ["args.json", *(f"in/s{i}.txt" for i in range(len(samples)))]  # one argument per path, in order
    assert (tmp_path / "shell-args.txt").read_text().splitlines() == [f"in/{v}.txt" for v in samples]
    assert not list(tmp_path.glob("pwned*"))


def test_a_failure_blocks_what_waits_on_it_and_a_retry_unblocks_it(tmp_path: Path) -> None:
    body = (
        "[tasks.matrix]\nx = [1, 2, 3]\n"
        + stage("work", command=["sh", "-c", 'echo "work $0" >> marks.txt; [ "$0" != 2 ] || [ -e fixed ]', "{x}"])
        + stage("after")
        + stage("total", "over = []")
    )
    cfg = write_config(tmp_path, body)
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    runs = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
    assert runs[("work", "x=2")]["state"] == "failed"
    assert runs[("after", "x=2")]["state"] == "blocked"
    assert runs[("after", "x=2")]["reason"] == "waits on work/x=2, which failed"
    assert runs[("total", "all")]["state"] == "blocked"
    assert runs[("total", "all")]["reason"] == "waits on work/x=2, which failed"  # named down to the cause
    assert runs[("after", "x=1")]["state"] == "done"
    counts = {s["name"]: s["counts"] for s in status(cfg)["stages"]}
    assert counts["after"]["blocked"] == 1 and counts["total"]["blocked"] == 1
    assert "blocked 1" in result.stdout  # the final progress lines say so
    assert marks(tmp_path)["total all"] == 0


async def test_retry_unblocks_and_the_aggregate_runs_once(tmp_path: Path, start_engine: EngineFactory) -> None:
    body = (
        "[tasks.matrix]\nx = [1, 2, 3]\n"
        + stage("work", command=["sh", "-c", 'echo "work $0" >> marks.txt; [ "$0" != 2 ] || [ -e fixed ]', "{x}"])
        + stage("total", "over = []")
    )
    engine = await start_engine(write_config(tmp_path, body))
    assert await wait_finished(engine) is False
    blocked = run_of(engine, "all", "total")
    assert blocked is not None and blocked.state == RunState.BLOCKED
    with pytest.raises(Exception, match="blocked"):
        engine.retry("all", "total")  # retry the run it waits on instead
    (tmp_path / "fixed").touch()
    engine.retry("x=2", "work")
    assert run_of(engine, "all", "total").state == RunState.WAITING  # type: ignore[union-attr]
    await wait_state(engine, "all", "total", RunState.DONE)
    assert await wait_finished(engine) is True
    assert marks(tmp_path)["total all"] == 1
    assert marks(tmp_path)["work 2"] == 2


def test_allow_failed_runs_over_the_members_that_passed(tmp_path: Path) -> None:
    members = ["python3", "-c", "import json, os; print(json.load(open(os.environ['COOPY_MEMBERS']))['members'])"]
    body = (
        "[tasks.matrix]\nx = [1, 2, 3]\n"
        + stage("work", command=["sh", "-c", '[ "$0" != 2 ]', "{x}"])
        + stage("total", "over = []", "allow_failed = true", 'inputs = ["out-{x}"]', command=[*members])
    )
    cfg = write_config(tmp_path, body)
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # a run failed: not all passed
    total = next(r for r in status(cfg)["runs"] if r["stage"] == "total")
    assert total["state"] == "done"
    log = Path(total["log"]).read_text()
    assert "2 of 3 members (1 left out: what they need failed: x=2)" in log.splitlines()[0]
    assert "'x=1'" in log and "'x=3'" in log and "'x=2'" not in log.split("\n", 1)[1]
    doc = json.loads(next((tmp_path / ".coopy" / "members" / "total").glob("all.1.json")).read_text())
    assert [m["task"] for m in doc["members"]] == ["x=1", "x=3"] and doc["left_out"] == ["x=2"]


async def test_a_configuration_added_later_reruns_only_the_groups_it_changes(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    body = (
        '[tasks.matrix]\ndataset = ["d"]\nmodel = ["a", "b"]\nseed = [1]\n'
        + stage("setup", 'over = ["dataset"]')  # needs nothing: a new model changes nothing here
        + stage("train")
        + stage("bymodel", 'over = ["model"]')
        + stage("report", "over = []")
    )
    engine = await start_engine(write_config(tmp_path, body))
    assert await wait_finished(engine)
    before = marks(tmp_path)
    assert sum(before.values()) == 1 + 2 + 2 + 1
    name = engine.add_task({"dataset": "d", "model": "a", "seed": 2})
    assert name == "dataset=d,model=a,seed=2"
    report = run_of(engine, "all", "report")
    assert report is not None and report.state == RunState.WAITING
    assert report.reason == f"runs again: configuration {name} joined"
    assert await wait_finished(engine)
    added = marks(tmp_path) - before
    assert added == {f"train {name}": 1, "bymodel model=a": 1, "report all": 1}
    assert run_of(engine, "all", "report").attempt == 2  # type: ignore[union-attr]
    header = Path(run_of(engine, "all", "report").log).read_text().splitlines()  # type: ignore[union-attr]
    assert header[0] == "coopy: report/all attempt 2: 3 of 3 members"
    assert header[1] == f"coopy: report/all attempt 2: runs again: configuration {name} joined"


def test_sigkill_mid_aggregate_readopts_and_runs_it_once(tmp_path: Path) -> None:
    slow = ["sh", "-c", 'echo "start $0" >> marks.txt; sleep 3; echo "end $0" >> marks.txt', "{task}"]
    body = "[tasks.matrix]\nx = [1, 2, 3, 4]\n" + stage("work", workers=4) + stage("total", "over = []", command=slow)
    cfg = write_config(tmp_path, body)
    engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=tmp_path / "run1.txt")
    try:
        deadline = time.monotonic() + 30
        while marks(tmp_path)["start all"] == 0:
            assert time.monotonic() < deadline, "the aggregate did not start"
            time.sleep(0.05)
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait(timeout=10)
        assert marks(tmp_path)["end all"] == 0  # killed while the aggregate ran
        again = coopy("run", str(cfg), cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        kill_all(processes_mentioning(str(tmp_path)))
    counted = marks(tmp_path)
    assert counted["start all"] == 1 and counted["end all"] == 1
    assert all(counted[f"work x={x}"] == 1 for x in range(1, 5))
    total = next(r for r in status(cfg)["runs"] if r["stage"] == "total")
    assert (total["state"], total["attempt"]) == ("done", 1)


def test_3000_runs_that_fail_as_they_start_end_the_pipeline_without_recursion(tmp_path: Path) -> None:
    (tmp_path / "raising_scripter.py").write_text(
        "from coopy_core import Scripter\n\n"
        "class Raising(Scripter):\n"
        "    def script(self, task, attempt):\n"
        "        raise RuntimeError(f'no command for {task.name}')\n"
    )
    body = (
        "[tasks.matrix]\nx = " + json.dumps(list(range(3000))) + "\n"
        '[[stages]]\nname = "s"\nscripter = "raising_scripter:Raising"\nworkers = 1\n' + stage("after")
    )
    cfg = write_config(tmp_path, body)
    result = coopy("run", str(cfg), cwd=tmp_path, timeout=240)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "RecursionError" not in result.stderr and "Traceback" not in result.stderr
    state = status(cfg)
    counts = {s["name"]: s["counts"] for s in state["stages"]}
    assert counts["s"]["failed"] == 3000 and counts["after"]["blocked"] == 3000
    reasons = {r["reason"] for r in state["runs"] if r["stage"] == "s"}
    said = "scripter raising_scripter:Raising raised RuntimeError: no command for x="
    assert len(reasons) == 3000 and all(r.startswith(said) for r in reasons)


async def test_events_leave_only_after_the_commit_that_records_them(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    """A screen never shows a state the store could lose: every RUN event's state is already in the
    state file (read through a connection of its own) when the event arrives."""
    from coopy_core.state.store import Store

    body = "[tasks.matrix]\nx = [1, 2, 3]\n" + stage("a") + stage("b", command=["sh", "-c", "exit $0", "{x}"])
    cfg = write_config(tmp_path, body)
    seen: list[tuple[str, str, str, str]] = []

    def on_event(event: object) -> None:
        run = getattr(event, "run", None)
        if run is None or run.state == RunState.WAITING:
            return
        reader = Store(tmp_path / ".coopy", readonly=True)
        try:
            stored = {(r.stage, r.name): r.state.value for r in reader.runs()}
        finally:
            reader.close()
        seen.append((run.stage, run.task, run.state.value, stored.get((run.stage, run.task), "absent")))

    engine = await start_engine(cfg, on_event)
    await wait_finished(engine)
    assert len(seen) >= 12
    stale = [s for s in seen if s[2] != s[3]]
    # a later change of the same run may already be committed too; what must never happen is an event
    # for a state the store does not hold yet
    assert all(s[3] != "absent" for s in seen), stale
    ordered = {"queued": 0, "running": 1, "done": 2, "failed": 2, "blocked": 2}
    assert all(ordered[s[3]] >= ordered[s[2]] for s in seen), stale
