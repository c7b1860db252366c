"""`coopy plan` and the run's log name the same reason: a run that runs again because the run it needs runs
again names that run (its direct upstream), in the plan, in `coopy why` and in its log's first line alike,
also three stages down a chain. Real CLI, real runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config

STEP = """
import pathlib, sys
stage, out = sys.argv[1:3]
with open("marks.txt", "a") as f:
    f.write(stage + "\\n")
pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(out).write_text(" ".join(sys.argv[3:]))
"""


def chain(tmp_path: Path, lr: str) -> Path:
    """a -> b -> c for one configuration `one`; a's command holds its lr."""
    (tmp_path / "step.py").write_text(STEP)
    body = f"[tasks.named]\none = {{ lr = {lr} }}\n"
    for name in ("a", "b", "c"):
        needs = f'needs = ["{chr(ord(name) - 1)}"]\n' if name != "a" else ""
        body += (
            f'[[stages]]\nname = "{name}"\n{needs}'
            f'command = ["python3", "step.py", "{name}", "out/{name}/{{task}}", "{{lr}}"]\n'
            f'done_when = ["out/{name}/{{task}}"]\n'
        )
    return write_config(tmp_path, body)


def run_ok(cfg: Path) -> None:
    result = coopy("run", str(cfg), cwd=cfg.parent)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_the_plan_and_the_log_name_the_same_upstream_run(tmp_path: Path) -> None:
    cfg = chain(tmp_path, "0.1")
    run_ok(cfg)
    assert (tmp_path / "marks.txt").read_text().split() == ["a", "b", "c"]
    cfg = chain(tmp_path, "0.01")
    planned = json.loads(coopy("plan", str(cfg), "--json", cwd=tmp_path).stdout)["would_run"]
    reasons = {r["stage"]: r["why"] for runs in planned.values() for r in runs}
    assert reasons == {
        "a": "param lr: 0.1 → 0.01",
        "b": "upstream a/one runs again",
        "c": "upstream b/one runs again",
    }
    run_ok(cfg)
    assert (tmp_path / "marks.txt").read_text().split() == ["a", "b", "c", "a", "b", "c"]
    runs = {r["stage"]: r for r in status(cfg)["runs"]}
    for stage in ("a", "b", "c"):
        first = Path(runs[stage]["log"]).read_text().splitlines()[0]
        assert first == f"coopy: {stage}/one attempt 2: runs again: {reasons[stage]}", first
