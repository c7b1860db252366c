"""A recipe means the same whatever started CooPy: a Python pipeline whose Scripter runs `sys.executable`
(as the README and the demo do) is run with one entry point — `python file.py`, `coopy run`,
`python -m coopy_core run`, the background engine, the venv's `python`, `python3` or `python3.11` — and
`plan` from every other one says nothing would run. Real processes, a real store; runs counted by marker
lines."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import coopy_argv
from tests.helpers.waiting import poll

BIN = Path(sys.executable).parent  # the venv's python, python3 and python3.11 (symlinks) are all here

PIPELINE = """
import json, sys
from pathlib import Path
from coopy_core import Launch, Matrix, Pipeline, Scripter, Stage, Task

HERE = Path(__file__).resolve().parent


class Step(Scripter):
    def script(self, task: Task, attempt: int) -> Launch:
        argv = [sys.executable, "step.py", self.stage.name, task.name]
        return Launch(argv=argv, cwd=HERE, env={"PYTHON_USED": sys.executable})


pipeline = Pipeline(
    "entry",
    state_dir=".coopy",
    poll_interval=0.2,
    matrix=Matrix(x=[1, 2]),
    stages=[
        Stage("a", scripter=Step, done_when=["out/a/{task}"]),
        Stage("b", scripter=Step, needs=["a"], over=[], done_when=["out/b/{task}"]),
    ],
)

if __name__ == "__main__":
    if sys.argv[1:] == ["plan"]:
        print(json.dumps(pipeline.plan().as_dict()))
    else:
        sys.exit(0 if pipeline.run().passed else 1)
"""

STEP = """
import pathlib, sys
stage, task = sys.argv[1:3]
with open("marks.txt", "a") as f:
    f.write(f"{stage} {task}\\n")
out = pathlib.Path("out", stage, task)
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(sys.executable)
"""


def python(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"no {name} beside {sys.executable}")
    return str(path)


def coopy_script() -> list[str]:
    argv = coopy_argv()
    if len(argv) != 1:
        pytest.skip("no installed `coopy` console script")
    return argv


# How each entry point runs the pipeline, and how it plans it.
RUNNERS = {
    "python file.py": lambda: [python("python"), "pipeline.py"],
    "python3 file.py": lambda: [python("python3"), "pipeline.py"],
    "coopy run": lambda: [*coopy_script(), "run", "pipeline.py"],
    "python3.11 -m coopy_core run": lambda: [
        python(f"python3.{sys.version_info.minor}"),
        "-m",
        "coopy_core",
        "run",
        "pipeline.py",
    ],
    "coopy run --detach": lambda: [*coopy_script(), "run", "--detach", "pipeline.py"],
}
PLANNERS = {
    "python file.py": lambda: [python("python"), "pipeline.py", "plan"],
    "python3 file.py": lambda: [python("python3"), "pipeline.py", "plan"],
    "coopy plan": lambda: [*coopy_script(), "plan", "pipeline.py", "--json"],
    "python -m coopy_core plan": lambda: [python("python"), "-m", "coopy_core", "plan", "pipeline.py", "--json"],
    "python3.11 -m coopy_core plan": lambda: [
        python(f"python3.{sys.version_info.minor}"),
        "-m",
        "coopy_core",
        "plan",
        "pipeline.py",
        "--json",
    ],
}
PAIRS = [(r, p) for r in RUNNERS for p in PLANNERS if r != p]


def marks(folder: Path) -> collections.Counter[str]:
    path = folder / "marks.txt"
    return collections.Counter(path.read_text().splitlines() if path.exists() else [])


def call(argv: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    return subprocess.run(
        argv, cwd=folder, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )


def ran(folder: Path, runner: str) -> Path:
    """The pipeline, run once to the end with `runner`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.py").write_text(PIPELINE)
    (folder / "step.py").write_text(STEP)
    result = call(RUNNERS[runner](), folder)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    if runner.endswith("--detach"):
        poll(lambda: _finished(folder), 60, "the background engine to run the pipeline")
        stopped = call([*coopy_script(), "stop", "pipeline.py"], folder)
        assert stopped.returncode == 0, stopped.stderr
    assert sum(marks(folder).values()) == 3, marks(folder)
    return folder


def _finished(folder: Path) -> bool:
    db = folder / ".coopy" / "state.sqlite"
    if not db.exists():
        return False
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn, conn:
        states = [s for (s,) in conn.execute("SELECT state FROM runs")]
    return len(states) == 3 and all(s == "done" for s in states)


def planned(folder: Path, planner: str) -> dict[str, object]:
    result = call(PLANNERS[planner](), folder)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each runner's own pipeline folder, run once (lazily: only the runners a selected test needs)."""
    return {}


@pytest.mark.parametrize(("runner", "planner"), PAIRS, ids=[f"{r} | {p}" for r, p in PAIRS])
def test_run_with_one_entry_point_and_plan_with_another_says_nothing_would_run(
    runner: str, planner: str, runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if runner not in runs:
        runs[runner] = ran(tmp_path_factory.mktemp("entry"), runner)
    folder = runs[runner]
    the_plan = planned(folder, planner)
    assert the_plan["would_run"] == {}, the_plan["would_run"]
    assert the_plan["current"] == 3
    assert sum(marks(folder).values()) == 3


def test_a_second_run_with_another_entry_point_runs_nothing(tmp_path: Path) -> None:
    folder = ran(tmp_path, "python file.py")
    again = call(RUNNERS["coopy run"](), folder)
    assert again.returncode == 0, again.stderr[-2000:]
    assert sum(marks(folder).values()) == 3, marks(folder)


def test_a_recipe_stored_with_another_spelling_of_this_interpreter_is_still_current(tmp_path: Path) -> None:
    """A store written before recipes spelled the interpreter one way (`.venv/bin/python3` in argv and env)
    keeps its meaning: judged against `python`, nothing runs again."""
    folder = ran(tmp_path, "python file.py")
    spelled = str(BIN / "python3")
    db = folder / ".coopy" / "state.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for task, stage, recipe in conn.execute("SELECT task, stage, recipe FROM runs").fetchall():
            data = json.loads(recipe)
            token = data["command"]["argv"][0]
            assert token.startswith("{python3."), token  # recorded as the one token
            data["command"]["argv"][0] = spelled
            data["command"]["env"]["PYTHON_USED"] = spelled
            conn.execute(
                "UPDATE runs SET recipe = ? WHERE task = ? AND stage = ?",
                (json.dumps(data, sort_keys=True, separators=(",", ":")), task, stage),
            )
    the_plan = planned(folder, "python file.py")
    assert the_plan["would_run"] == {}, the_plan["would_run"]


def test_another_interpreter_is_still_another_recipe(tmp_path: Path) -> None:
    """The venv's base interpreter (no venv packages) is not this one: a recipe recorded with it runs again,
    and the plan says the command changed."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("not in a venv")
    folder = ran(tmp_path, "python file.py")
    db = folder / ".coopy" / "state.sqlite"
    base = os.path.realpath(sys.executable)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        recipe = conn.execute("SELECT recipe FROM runs WHERE stage = 'a' AND task = 'x=1'").fetchone()[0]
        data = json.loads(recipe)
        data["command"]["argv"][0] = base
        conn.execute("UPDATE runs SET recipe = ? WHERE stage = 'a' AND task = 'x=1'", (json.dumps(data),))
    the_plan = planned(folder, "coopy plan")
    assert {r["task"] for r in the_plan["would_run"]["command changed"]} == {"x=1"}, the_plan
