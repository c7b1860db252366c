"""A run left blocked (or waiting) when the engine stopped is judged by its recipe like any other: blocked is a
place in the schedule, derived again at every start, not a result. When its last attempt passed and what
made it is what the config makes now, it is current (`coopy plan` says so and `coopy run` does not run it);
when what made it changed, it runs again and says why. Real CLI, real processes; runs counted by marker
lines."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config

STEP = """
import pathlib, sys
stage, task = sys.argv[1:3]
with open("marks.txt", "a") as f:
    f.write(f"{stage} {task}\\n")
if task == "bad":
    sys.exit(3)
out = pathlib.Path("out", stage, task)
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(" ".join(sys.argv[3:]))
"""


def config(tmp_path: Path, samples: list[str], flag: str = "x") -> Path:
    (tmp_path / "step.py").write_text(STEP)
    named = "\n".join(f'{s} = {{ sample = "{s}" }}' for s in samples)
    return write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        {named}
        [[stages]]
        name = "map"
        command = ["python3", "step.py", "map", "{{task}}"]
        done_when = ["out/map/{{task}}"]
        [[stages]]
        name = "call"
        needs = ["map"]
        over = []
        command = ["python3", "step.py", "call", "{{task}}", "{flag}"]
        done_when = ["out/call/{{task}}"]
        """,
    )


def marks(folder: Path) -> collections.Counter[str]:
    path = folder / "marks.txt"
    return collections.Counter(path.read_text().splitlines() if path.exists() else [])


def plan(cfg: Path) -> dict[str, Any]:
    result = coopy("plan", str(cfg), "--json", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def left_blocked(tmp_path: Path) -> Path:
    """call/all passed over A and B; a sample that fails joined, so call/all was reset and left blocked."""
    cfg = config(tmp_path, ["A", "B"])
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    cfg = config(tmp_path, ["A", "B", "bad"])
    assert coopy("run", str(cfg), cwd=tmp_path).returncode != 0
    states = {(r["stage"], r["task"]): r["state"] for r in status(cfg)["runs"]}
    assert states[("call", "all")] == "blocked" and states[("map", "bad")] == "failed", states
    assert marks(tmp_path)["call all"] == 1
    return cfg


def test_a_run_left_blocked_whose_recipe_matches_its_last_result_is_current(tmp_path: Path) -> None:
    left_blocked(tmp_path)
    cfg = config(tmp_path, ["A", "B"])  # the failing sample removed: call/all is what made its result again
    the_plan = plan(cfg)
    assert the_plan["would_run"] == {}, the_plan["would_run"]
    assert the_plan["current"] == 3
    said = coopy("why", str(cfg), "call", "all", cwd=tmp_path).stdout.strip()
    assert said == "call/all is current: nothing that made it changed", said
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    assert marks(tmp_path)["call all"] == 1, "call/all ran again though its result was current"
    states = {(r["stage"], r["task"]): r["state"] for r in status(cfg)["runs"]}
    assert states[("call", "all")] == "done", states


def test_a_run_left_blocked_whose_recipe_changed_runs_again_and_says_why(tmp_path: Path) -> None:
    left_blocked(tmp_path)
    cfg = config(tmp_path, ["A", "B"], flag="y")
    said = coopy("why", str(cfg), "call", "all", cwd=tmp_path).stdout.strip()
    assert said == 'call/all runs again: the command changed: argv[4]: "x" → "y"', said
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    assert marks(tmp_path)["call all"] == 2
    assert (tmp_path / "out" / "call" / "all").read_text() == "y"
