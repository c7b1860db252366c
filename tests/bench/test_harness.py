"""The benchmark harness measures what it says: its peers run the whole workload in the graph's order,
its lower bound is the graph's, a target it could not measure is a miss, and it leaves no process or
folder behind. No timing is asserted here (targets live in `python -m bench`, never in tests)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench import graph
from bench import workloads as W
from bench.report import miss_by
from bench.systems import SYSTEMS, kill_marked, run_plan, tsp_exe
from bench.targets import targets


def _needs_tsp() -> None:
    if tsp_exe() is None:
        message = "task-spooler is not installed (apt-get install task-spooler)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it", pytrace=False)
        pytest.skip(message)


def _in_order(w: W.Workload, stamps: list[tuple[str, str, float, float]]) -> None:
    by = {(stage, task): (s, e) for stage, task, s, e in stamps}
    assert len(by) == len(stamps) == w.runs  # every run once
    for task in w.tasks:
        for k in range(1, len(w.stages)):
            assert by[(w.stages[k], task)][0] >= by[(w.stages[k - 1], task)][1]


def test_task_spooler_chain_runs_every_stage_in_order_and_leaves_nothing(tmp_path: Path) -> None:
    _needs_tsp()
    w = W.w1(6, scale=0.02)
    m = run_plan(SYSTEMS["tsp"](w, tmp_path), tmp_path, 60, w.runs)
    assert m.ok, m.note
    _in_order(w, m.stamps)
    assert m.exited >= max(e for *_x, e in m.stamps)  # the driver waited for the last job
    assert kill_marked(f"TS_SOCKET={tmp_path}/".encode()) == 0  # servers and clients all gone
    assert not any(tmp_path.glob("ts.*"))  # every server was told to quit (it removes its socket)


def test_task_spooler_reports_a_failing_job(tmp_path: Path) -> None:
    _needs_tsp()
    w = W.w3b(4)
    plan = SYSTEMS["tsp"](w, tmp_path)
    (tmp_path / "chain.sh").write_text((tmp_path / "chain.sh").read_text().replace("/bin/true", "/bin/false", 1))
    m = run_plan(plan, tmp_path, 60, None)
    assert not m.ok and "3 of 4 jobs finished with 0" in m.note


def test_the_graph_lower_bound_is_the_longest_path_or_the_busiest_stage() -> None:
    w = W.w4()
    counts = {s.name: sum(1 for r in w.runs if r.stage == s.name) for s in w.stages}
    assert counts == {"prepare": 16, "train": 48, "baseline": 16, "aggregate": 3, "report": 1}
    agg = next(r for r in w.runs if r.stage == "aggregate")
    assert sum(1 for n in agg.needs if n[0] == "train") == 16 and sum(1 for n in agg.needs if n[0] == "baseline") == 16
    train = [r for r in w.runs if r.stage == "train"]
    assert w.stage_bounds()["train"] == pytest.approx(sum(r.duration for r in train) / 2)
    by = {(r.stage, r.name): r for r in w.runs}
    # the longest path by hand: prepare -> (train | baseline) -> aggregate -> report
    longest = max(
        by[p].duration + max(by[t].duration, by[b].duration) + by[a].duration + by[("report", "all")].duration
        for a in [("aggregate", f"model={m}") for m in w.matrix["model"]]
        for t in by[a].needs
        if t[0] == "train"
        for p in by[t].needs
        for b in [("baseline", p[1])]
    )
    assert w.critical_path() == pytest.approx(longest)
    assert w.lower_bound() == max(w.critical_path(), *w.stage_bounds().values())


@pytest.mark.parametrize("system", ["coopy", "sequential"])
def test_the_graph_runs_whole_and_in_order(system: str, tmp_path: Path) -> None:
    w = W.w4(scale=0.01)
    m, s = graph.measure(system, w, tmp_path)
    assert m.ok, m.note
    assert len(m.stamps) == len(w.runs) and s["ratio_to_lower_bound"] > 1


def test_a_run_started_before_what_it_needs_is_caught() -> None:
    w = W.w4(scale=0.01)
    stamps, t = [], 0.0
    for r in w.runs:
        stamps.append((r.stage, r.name, t, t + 1))
        t += 1
    assert graph.order_problem(w, stamps) == ""
    i = next(i for i, r in enumerate(w.runs) if r.stage == "report")
    stage, name, _s, e = stamps[i]
    stamps[i] = (stage, name, 0.5, e)  # the report started while the first prepare ran
    assert "report/all started before" in graph.order_problem(w, stamps)
    assert "did not run" in graph.order_problem(w, stamps[:-1])


def test_a_target_that_could_not_be_measured_is_a_miss_that_says_why() -> None:
    refused = "coopy: x.toml: tasks.matrix: the matrix expands to 1000000 configurations; the limit is 100000"
    peer_failed = {"system": "task-spooler", "ok": False, "note": "exit code 1", "makespan_s": 0.1}
    coopy = {"system": "CooPy", "ok": True, "note": "", "makespan_s": 2.0}
    report = {
        "workloads": [{"name": "W2", "systems": [peer_failed, dict(coopy, handoff_median_ms=3.0, handoff_p99_ms=8.0)]}],
        "scale": {"rows": [{"configurations": 1_000_000, "notes": [refused], "refused": refused}]},
    }
    rows = {t["target"]: t for t in targets(report)}
    median = rows["W2 hand-off median ≤ 2 ms"]
    assert median["met"] is False and miss_by(median) == "3 ms: 1.50 × the limit (+1 ms)"
    assert rows["W2 hand-off p99 ≤ 10 ms"]["met"] is True
    validate = rows["W5 1,000,000 configurations: coopy validate ≤ 10 s"]
    assert validate["met"] is False and "the limit is 100000" in validate["measured"]
    versus = rows["W2 CooPy's makespan below task-spooler's"]
    assert versus["met"] is False and "task-spooler: exit code 1" in versus["measured"]


def test_no_failing_folder_is_kept_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import __main__ as main

    monkeypatch.setattr(main.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("bench.systems.STEP", Path("/nonexistent/step.sh"))  # the first run fails
    for keep in (False, True):
        entries = main.run_chains(["W2"], ["sequential"], quick=True, keep_failed=keep)
        assert not entries[0]["systems"][0]["ok"]
        left = [p for p in tmp_path.iterdir() if p.name.startswith("bench-W2-")]
        assert len(left) == (1 if keep else 0)
        for p in left:
            shutil.rmtree(p)
