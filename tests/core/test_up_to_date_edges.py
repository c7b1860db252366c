"""The edges of "a run re-runs exactly when what made it changed", found by review: a run blocked while it
ran, a recipe changed while its run ran through an engine crash, a state dir from before signatures,
outputs several runs share, and `coopy plan` saying exactly what the next start does (a running run whose
upstream re-runs, a run it would skip, outputs with `{attempt}`, a Scripter that failed then got fixed)."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from coopy_core import RunState
from tests.helpers.cli import coopy, coopy_popen, status
from tests.helpers.engine import EngineFactory, run_of, wait_finished, wait_state, write_config
from tests.helpers.processes import kill_all, processes_mentioning


def marks(directory: Path) -> collections.Counter[str]:
    path = directory / "marks.txt"
    return collections.Counter(path.read_text().splitlines() if path.exists() else [])


def plan(cfg: Path) -> dict[str, object]:
    result = coopy("plan", str(cfg), "--json", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_ok(cfg: Path, code: int = 0) -> None:
    result = coopy("run", str(cfg), cwd=cfg.parent)
    assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]


def kill_while(cfg: Path, mark: str) -> None:
    """`coopy run`, SIGKILLed once `mark` is in marks.txt (its commands go on)."""
    engine = coopy_popen("run", str(cfg), cwd=cfg.parent, output=cfg.parent / "killed.txt")
    deadline = time.monotonic() + 30
    while not marks(cfg.parent)[mark]:
        assert time.monotonic() < deadline, f"{mark} never appeared"
        time.sleep(0.05)
    os.kill(engine.pid, signal.SIGKILL)
    engine.wait(timeout=10)


async def test_a_running_run_whose_need_fails_meanwhile_ends_blocked(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "1.txt").write_text("one\n")
    cfg = write_config(
        tmp_path,
        """
        [tasks.named]
        a = { x = 1 }
        [[stages]]
        name = "prep"
        over = []
        inputs = ["in/{x}.txt"]
        command = ["cat", "{inputs}"]
        [[stages]]
        name = "train"
        command = ["sleep", "2"]
        """,
    )
    engine = await start_engine(cfg)
    await wait_state(engine, "a", "train", RunState.RUNNING)
    engine.add_task({"x": 2}, name="b")  # in/2.txt is missing: prep/all runs again and fails
    assert await asyncio.wait_for(engine.run_until_finished(), 20) is False  # it finishes: nothing stuck running
    train = run_of(engine, "a", "train")
    assert train is not None and train.state == RunState.BLOCKED
    assert train.reason == "waits on prep/all, which failed"


def test_a_recipe_changed_while_its_run_ran_through_a_crash_runs_again(tmp_path: Path) -> None:
    body = """
        [tasks.named]
        a = { lr = 0.01 }
        [[stages]]
        name = "train"
        command = ["sh", "-c", "echo start {lr} >> marks.txt; sleep 2; echo TRAIN {lr} >> marks.txt"]
        [[stages]]
        name = "eval"
        command = ["sh", "-c", "echo EVAL >> marks.txt"]
        """
    cfg = write_config(tmp_path, body)
    try:
        kill_while(cfg, "start 0.01")
        cfg.write_text(cfg.read_text().replace("lr = 0.01", "lr = 0.1"))
        planned = plan(cfg)["would_run"]
        assert [r["task"] for r in planned["params changed"]] == ["a"]  # type: ignore[index]
        assert "after the attempt running now" in planned["params changed"][0]["why"]  # type: ignore[index]
        run_ok(cfg)
    finally:
        kill_all(processes_mentioning(str(tmp_path), environ=True))
    assert marks(tmp_path) == {"start 0.01": 1, "TRAIN 0.01": 1, "start 0.1": 1, "TRAIN 0.1": 1, "EVAL": 1}
    runs = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
    assert runs[("train", "a")]["attempt"] == 2
    assert runs[("train", "a")]["state"] == runs[("eval", "a")]["state"] == "done"


def test_a_state_dir_from_before_signatures_is_current_and_stays_so(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        seed = [1, 2]
        [[stages]]
        name = "train"
        command = ["sh", "-c", "echo TRAIN {seed} >> marks.txt"]
        [[stages]]
        name = "eval"
        command = ["sh", "-c", "echo EVAL {seed} >> marks.txt"]
        """,
    )
    run_ok(cfg)
    db = sqlite3.connect(tmp_path / ".coopy" / "state.sqlite")
    db.execute("UPDATE runs SET recipe = NULL, signature = NULL")  # as an older CooPy left it
    db.commit()
    db.close()
    assert plan(cfg)["would_run"] == {}
    run_ok(cfg)  # records the recipes
    assert plan(cfg)["would_run"] == {}
    run_ok(cfg)
    assert sum(marks(tmp_path).values()) == 4  # nothing ran again, on either start


def test_outputs_several_runs_share_are_neither_removed_nor_distrusted(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        dataset = ["wine"]
        model = ["a", "b"]
        [[stages]]
        name = "prepare"
        command = ["sh", "-c", "echo PREP {model} >> marks.txt; sleep 0.5; echo data > data/{dataset}.csv"]
        done_when = ["data/{dataset}.csv"]
        skip_if_done = true
        workers = 1
        [[stages]]
        name = "train"
        command = ["sh", "-c", "sleep 0.3; cat data/{dataset}.csv"]
        workers = 2
        """,
    )
    run_ok(cfg)  # no run removed the file another was reading: every train read it
    assert sum(marks(tmp_path).values()) in (1, 2)  # b queued before a made it: it may run too
    cfg.write_text(cfg.read_text().replace('model = ["a", "b"]', 'model = ["a", "b", "c"]'))
    before = marks(tmp_path)
    run_ok(cfg)
    assert marks(tmp_path) == before  # c's prepare finds the shared file: skipped, as before signatures
    states = {(r["stage"], r["task"]): r["state"] for r in status(cfg)["runs"]}
    assert states[("prepare", "dataset=wine,model=c")] == "skipped"
    assert states[("train", "dataset=wine,model=c")] == "done"


def test_plan_says_which_runs_the_next_start_would_skip(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    for seed in (1, 2):
        (tmp_path / "out" / f"{seed}.pt").write_text("m\n")
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        seed = [1, 2]
        [[stages]]
        name = "train"
        command = ["sh", "-c", "echo TRAIN {seed} >> marks.txt; echo m > out/{seed}.pt"]
        done_when = ["out/{seed}.pt"]
        skip_if_done = true
        """,
    )
    planned = plan(cfg)
    assert planned["would_run"] == {}
    assert sorted(r["task"] for r in planned["skipped"]) == ["seed=1", "seed=2"]  # type: ignore[union-attr]
    run_ok(cfg)
    assert marks(tmp_path) == {}
    assert {r["state"] for r in status(cfg)["runs"]} == {"skipped"}


def test_plan_renders_outputs_with_the_attempt_that_made_them(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    cfg = write_config(
        tmp_path,
        """
        [tasks.named]
        a = { x = 1 }
        [[stages]]
        name = "train"
        command = ["sh", "-c", "test {attempt} -ge 2 || exit 1; echo m > out/{task}.{attempt}.pt"]
        done_when = ["out/{task}.{attempt}.pt"]
        retries = 1
        backoff = 0.1
        """,
    )
    run_ok(cfg)
    assert (tmp_path / "out" / "a.2.pt").exists()
    assert plan(cfg)["would_run"] == {}
    assert coopy("why", str(cfg), "train", "a", cwd=tmp_path).stdout.strip() == (
        "train/a is current: nothing that made it changed"
    )


def test_a_scripter_that_failed_runs_once_it_is_fixed(tmp_path: Path) -> None:
    (tmp_path / "myscr.py").write_text(
        "import os\n"
        "from coopy_core import Launch, Scripter\n\n"
        "class S(Scripter):\n"
        "    def script(self, task, attempt):\n"
        "        if os.path.exists(os.path.join(self.config.base_dir, 'broken')):\n"
        "            raise RuntimeError('scripter is broken')\n"
        "        return Launch(argv=['sh', '-c', 'echo RAN >> marks.txt'], cwd=self.config.base_dir)\n"
    )
    (tmp_path / "broken").touch()
    cfg = write_config(tmp_path, '[tasks.named]\na = { x = 1 }\n[[stages]]\nname = "train"\nscripter = "myscr:S"\n')
    run_ok(cfg, code=1)
    assert plan(cfg)["would_run"] == {}  # still broken: it stays failed
    assert len(plan(cfg)["stays_failed"]) == 1  # type: ignore[arg-type]
    (tmp_path / "broken").unlink()
    assert "command changed" in plan(cfg)["would_run"]  # type: ignore[operator]
    run_ok(cfg)
    assert marks(tmp_path) == {"RAN": 1}


def test_file_hashes_made_during_a_run_are_kept(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(1 << 20))
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        x = [1]
        [[stages]]
        name = "use"
        inputs = ["big.bin"]
        command = ["true"]
        """,
    )
    run_ok(cfg)
    db = sqlite3.connect(f"file:{tmp_path / '.coopy' / 'state.sqlite'}?mode=ro", uri=True)
    try:
        files = [row[0] for row in db.execute("SELECT path FROM files")]
    finally:
        db.close()
    assert files == [str(tmp_path / "big.bin")]


async def test_a_run_blocked_by_a_restart_while_it_ran_settles_when_it_ends(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    """Killed while b ran; meanwhile a (what b needs) was changed and fails: b's attempt ends blocked."""
    cfg = write_config(
        tmp_path,
        """
        [tasks.named]
        t = { v = 1 }
        [[stages]]
        name = "a"
        command = ["sh", "-c", "[ {v} = 1 ]"]
        [[stages]]
        name = "b"
        command = ["sh", "-c", "echo b >> marks.txt; sleep 2"]
        """,
    )
    try:
        kill_while(cfg, "b")
        cfg.write_text(cfg.read_text().replace("t = { v = 1 }", "t = { v = 2 }"))  # a runs again, and fails
        engine = await start_engine(cfg)
        assert await wait_finished(engine, timeout=30) is False
        blocked = run_of(engine, "t", "b")
        assert blocked is not None and blocked.state == RunState.BLOCKED
    finally:
        kill_all(processes_mentioning(str(tmp_path), environ=True))
