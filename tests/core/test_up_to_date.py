"""Results you can trust, through the real CLI: a run re-runs exactly when what made it changed (params,
code, inputs, upstream results, a missing output), `coopy plan` and `coopy why` say why, config drift is
never silent, and no partial output is ever taken for a result. Executions are counted by marker lines."""

from __future__ import annotations

import collections
import json
import os
import signal
import textwrap
import time
from pathlib import Path

from tests.helpers.cli import coopy, coopy_popen, status
from tests.helpers.engine import write_config
from tests.helpers.processes import kill_all, processes_mentioning

STEP = """
import json, sys, pathlib
stage, task, out = sys.argv[1:4]
with open("marks.txt", "a") as f:
    f.write(f"{stage} {task}\\n")
pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(out).write_text(json.dumps(sys.argv[4:]))
"""


def ours(directory: Path) -> list[int]:
    """Processes of this test's runs (they carry its state dir in COOPY_RUN_ID)."""
    return processes_mentioning(str(directory), environ=True)


def marks(directory: Path) -> collections.Counter[str]:
    path = directory / "marks.txt"
    return collections.Counter(path.read_text().splitlines() if path.exists() else [])


def chain(tmp_path: Path, named: str = "", extra_a: str = "", matrix: str = "x = [1, 2]") -> Path:
    """a -> b -> c per configuration; each writes out/<stage>/<task>.json and declares it."""
    (tmp_path / "step.py").write_text(STEP)
    stages = ""
    for name in ("a", "b", "c"):
        stages += textwrap.dedent(
            f'''
            [[stages]]
            name = "{name}"
            command = ["python3", "step.py", "{name}", "{{task}}", "out/{name}/{{task}}.json", "{{lr}}"]
            done_when = ["out/{name}/{{task}}.json"]
            workers = 2
            '''
        )
        if name == "a":
            stages += extra_a
    tasks = f"[tasks.matrix]\nlr = [0.1]\n{matrix}\n" if not named else f"[tasks.named]\n{named}"
    return write_config(tmp_path, tasks + stages)


def run_ok(cfg: Path) -> None:
    result = coopy("run", str(cfg), cwd=cfg.parent)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def plan(cfg: Path) -> dict[str, object]:
    result = coopy("plan", str(cfg), "--json", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def would_run(cfg: Path) -> dict[str, set[str]]:
    return {
        category: {f"{r['stage']}/{r['task']}" for r in runs}
        for category, runs in plan(cfg)["would_run"].items()  # type: ignore[union-attr]
    }


def test_a_second_run_of_an_unchanged_pipeline_runs_nothing(tmp_path: Path) -> None:
    cfg = chain(tmp_path)
    run_ok(cfg)
    assert sum(marks(tmp_path).values()) == 6
    assert would_run(cfg) == {}
    assert plan(cfg)["current"] == 6
    run_ok(cfg)
    assert sum(marks(tmp_path).values()) == 6
    assert coopy("why", str(cfg), "b", "lr=0.1,x=1", cwd=tmp_path).stdout.strip() == (
        "b/lr=0.1,x=1 is current: nothing that made it changed"
    )


def test_a_deleted_output_reruns_exactly_that_run_and_what_follows_it(tmp_path: Path) -> None:
    cfg = chain(tmp_path)
    run_ok(cfg)
    (tmp_path / "out" / "b" / "lr=0.1,x=1.json").unlink()
    assert would_run(cfg) == {"output missing": {"b/lr=0.1,x=1"}, "upstream re-ran": {"c/lr=0.1,x=1"}}
    why = coopy("why", str(cfg), "c", "lr=0.1,x=1", cwd=tmp_path).stdout.strip()
    assert why == "c/lr=0.1,x=1 runs again: upstream b/lr=0.1,x=1 runs again"
    text = coopy("plan", str(cfg), cwd=tmp_path).stdout
    assert "output missing (1):\n    b/lr=0.1,x=1: out/b/lr=0.1,x=1.json missing" in text
    before = marks(tmp_path)
    run_ok(cfg)
    assert marks(tmp_path) - before == {"b lr=0.1,x=1": 1, "c lr=0.1,x=1": 1}
    assert (tmp_path / "out" / "b" / "lr=0.1,x=1.json").exists()
    runs = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
    assert runs[("b", "lr=0.1,x=1")]["attempt"] == 2
    log = Path(runs[("b", "lr=0.1,x=1")]["log"]).read_text()
    assert log.startswith("coopy: b/lr=0.1,x=1 attempt 2: runs again: out/b/lr=0.1,x=1.json missing")


def test_a_changed_param_reruns_exactly_the_runs_of_that_configuration(tmp_path: Path) -> None:
    cfg = chain(tmp_path, named="one = { lr = 0.1 }\ntwo = { lr = 0.1 }\n")
    run_ok(cfg)
    cfg.write_text(cfg.read_text().replace("two = { lr = 0.1 }", "two = { lr = 0.01 }"))
    assert would_run(cfg) == {"params changed": {"a/two"}, "upstream re-ran": {"b/two", "c/two"}}
    assert coopy("why", str(cfg), "a", "two", cwd=tmp_path).stdout.strip() == "a/two runs again: param lr: 0.1 → 0.01"
    before = marks(tmp_path)
    run_ok(cfg)
    assert marks(tmp_path) - before == {"a two": 1, "b two": 1, "c two": 1}
    assert json.loads((tmp_path / "out" / "c" / "two.json").read_text()) == ["0.01"]


def test_a_changed_matrix_retires_the_old_configuration_and_runs_the_new_one(tmp_path: Path) -> None:
    cfg = chain(tmp_path, matrix="x = [1, 2]")
    run_ok(cfg)
    cfg.write_text(cfg.read_text().replace("x = [1, 2]", "x = [1, 3]"))
    planned = plan(cfg)
    assert planned["removed"] == ["lr=0.1,x=2"]
    assert {r["task"] for r in planned["would_run"]["new"]} == {"lr=0.1,x=3"}  # type: ignore[index]
    before = marks(tmp_path)
    run_ok(cfg)
    assert marks(tmp_path) - before == {"a lr=0.1,x=3": 1, "b lr=0.1,x=3": 1, "c lr=0.1,x=3": 1}
    runs = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
    assert runs[("a", "lr=0.1,x=2")]["state"] == "removed" and runs[("a", "lr=0.1,x=2")]["was"] == "done"
    assert all(s["total"] == 2 for s in status(cfg)["stages"])  # the removed one is not counted
    exported = json.loads(coopy("export", str(cfg), "--format", "json", cwd=tmp_path).stdout)
    assert {r["task"]: r["removed"] for r in exported} == {"lr=0.1,x=1": False, "lr=0.1,x=3": False, "lr=0.1,x=2": True}


def test_a_changed_code_file_reruns_its_stage_and_what_follows_and_a_touch_nothing(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helper.py").write_text("VALUE = 1\n")
    cfg = chain(tmp_path, extra_a='code = ["step.py"]\n')
    cfg.write_text(cfg.read_text().replace('name = "b"\n', 'name = "b"\ncode = ["lib/*.py"]\n'))
    run_ok(cfg)
    helper = tmp_path / "lib" / "helper.py"
    stat = helper.stat()
    os.utime(helper, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # a touch: no change
    assert would_run(cfg) == {}
    helper.write_text("VALUE = 2\n")
    assert would_run(cfg) == {
        "code changed": {"b/lr=0.1,x=1", "b/lr=0.1,x=2"},
        "upstream re-ran": {"c/lr=0.1,x=1", "c/lr=0.1,x=2"},
    }
    assert coopy("why", str(cfg), "b", "lr=0.1,x=2", cwd=tmp_path).stdout.strip() == (
        "b/lr=0.1,x=2 runs again: lib/helper.py changed"
    )
    before = marks(tmp_path)
    run_ok(cfg)
    assert marks(tmp_path) - before == {"b lr=0.1,x=1": 1, "b lr=0.1,x=2": 1, "c lr=0.1,x=1": 1, "c lr=0.1,x=2": 1}


def test_a_changed_input_reruns_the_aggregate_that_reads_it(tmp_path: Path) -> None:
    (tmp_path / "step.py").write_text(STEP)
    (tmp_path / "data").mkdir()
    for x in (1, 2):
        (tmp_path / "data" / f"{x}.csv").write_text(f"{x}\n")
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "total"
        over = []
        inputs = ["data/{x}.csv"]
        command = ["python3", "step.py", "total", "{task}", "out/total.json", "{inputs}"]
        """,
    )
    run_ok(cfg)
    (tmp_path / "data" / "2.csv").write_text("20\n")
    assert would_run(cfg) == {"input changed": {"total/all"}}
    assert "data/2.csv changed" in coopy("why", str(cfg), "total", "all", cwd=tmp_path).stdout
    run_ok(cfg)
    assert marks(tmp_path)["total all"] == 2


def test_a_run_that_fails_leaves_no_output_to_skip_later(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        x = [1]
        [[stages]]
        name = "make"
        command = ["sh", "-c", "echo make >> marks.txt; mkdir -p out; echo partial > out/result.txt; [ -e ok ]"]
        done_when = ["out/result.txt"]
        skip_if_done = true
        [[stages]]
        name = "use"
        command = ["sh", "-c", "echo use >> marks.txt; cat out/result.txt"]
        """,
    )
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 1
    assert not (tmp_path / "out" / "result.txt").exists()  # the partial output was removed
    assert marks(tmp_path) == {"make": 1}
    (tmp_path / "ok").touch()
    cfg.write_text(cfg.read_text().replace("[ -e ok ]", "[ -e ok ] && true"))  # the fix: the recipe changed
    assert would_run(cfg) == {"command changed": {"make/x=1"}, "new": {"use/x=1"}}
    run_ok(cfg)
    assert marks(tmp_path) == {"make": 2, "use": 1}


def test_skip_if_done_trusts_only_outputs_this_recipe_made_or_newer_than_their_inputs(tmp_path: Path) -> None:
    (tmp_path / "step.py").write_text(STEP)
    body = """
        [tasks.named]
        t = { v = 1 }
        [[stages]]
        name = "sort"
        command = ["python3", "step.py", "sort", "{task}", "out/sorted.json", "{v}"]
        done_when = ["out/sorted.json"]
        [[stages]]
        name = "index"
        command = ["python3", "step.py", "index", "{task}", "out/index.json"]
        done_when = ["out/index.json"]
        skip_if_done = true
        """
    cfg = write_config(tmp_path, body)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.json").write_text("[]")  # an index from before, made by no run CooPy knows
    time.sleep(0.05)
    run_ok(cfg)  # sort writes out/sorted.json: newer than the old index, so the index is rebuilt
    assert marks(tmp_path) == {"sort t": 1, "index t": 1}
    cfg.write_text(cfg.read_text().replace('"{task}", "out/index.json"]', '"{task}", "out/index.json", "--fast"]'))
    run_ok(cfg)  # the index's recipe changed: its output, though newer than its input, was made by another
    assert marks(tmp_path) == {"sort t": 1, "index t": 2}
    cfg.write_text(cfg.read_text().replace("t = { v = 1 }", "u = { v = 1 }"))  # same outputs, a new name
    run_ok(cfg)
    # u's sort runs (it never ran); its index is made by a recipe that no longer holds (t's, upstream
    # sort/t): not trusted, rebuilt
    assert marks(tmp_path) == {"sort t": 1, "index t": 2, "sort u": 1, "index u": 1}


def test_a_state_dir_belongs_to_one_config(tmp_path: Path) -> None:
    body = '[pipeline]\nstate_dir = "shared"\n[tasks.matrix]\nx = [1]\n[[stages]]\nname = "s"\ncommand = ["true"]\n'
    first = write_config(tmp_path, body, name="first.toml")
    second = write_config(tmp_path, body.replace('"true"', '"false"'), name="second.toml")
    run_ok(first)
    result = coopy("run", str(second), cwd=tmp_path)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and str(first) in line and str(second) in line and "--take-over" in line
    assert status(first)["runs"][0]["state"] == "done"  # nothing of the first config was touched
    taken = coopy("run", "--take-over", str(second), cwd=tmp_path)
    assert taken.returncode == 1, taken.stderr  # now it is the second's: its command (false) runs and fails
    forgot = coopy("forget", str(second), "--yes", cwd=tmp_path)
    assert forgot.returncode == 0 and not (tmp_path / "shared").exists()


def test_a_renamed_stage_s_running_command_is_stopped_and_said(tmp_path: Path) -> None:
    body = (
        '[tasks.matrix]\nx = [1]\n[[stages]]\nname = "slow"\n'
        'command = ["sh", "-c", "echo started >> marks.txt; sleep 60; echo finished >> marks.txt"]\n'
    )
    cfg = write_config(tmp_path, body)
    engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=tmp_path / "run1.txt")
    try:
        deadline = time.monotonic() + 30
        while not marks(tmp_path)["started"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait(timeout=10)
        assert ours(tmp_path), "the command should outlive the engine"
        cfg.write_text(body.replace('name = "slow"', 'name = "quick"').replace("sleep 60", "sleep 0"))
        result = coopy("run", str(cfg), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "stopped slow/x=1 (attempt 1): its stage is no longer in the config" in result.stdout + result.stderr
        deadline = time.monotonic() + 10
        while ours(tmp_path):
            assert time.monotonic() < deadline, f"the old stage's command is still running: {ours(tmp_path)}"
            time.sleep(0.05)
    finally:
        kill_all(ours(tmp_path))
    assert marks(tmp_path) == {"started": 2, "finished": 1}  # the renamed stage ran; the old one never finished
    from coopy_core.state.store import Store

    store = Store(tmp_path / ".coopy", readonly=True)
    try:
        old = next(r for r in store.runs() if r.stage == "slow")
    finally:
        store.close()
    assert old.state.value == "cancelled" and old.reason == "stopped: its stage is no longer in the config"
