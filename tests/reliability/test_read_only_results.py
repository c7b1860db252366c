"""Finished results read from a place that cannot be written (an archive, a shared read-only mount): every
reading verb answers as it does on a writable copy, writes nothing, and never says "cannot write"."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers.cli import coopy, coopy_popen
from tests.helpers.processes import kill_all, processes_mentioning
from tests.helpers.readonly import read_only_copy, writable
from tests.helpers.waiting import wait_for

CONFIG = """
[pipeline]
state_dir = ".coopy"

[tasks.matrix]
model = ["cnn", "mlp"]
seed = [0, 1]

[[stages]]
name = "train"
workers = 2
command = "{python} metric.py {{seed}}"

[[stages]]
name = "evaluate"
workers = 2
command = "{slow}"
"""


def _project(root: Path, slow: str = "true") -> Path:
    root.mkdir()
    (root / "coopy.toml").write_text(CONFIG.format(python=sys.executable, slow=slow))
    (root / "metric.py").write_text(
        "import json, os, sys\n"
        "with open(os.environ['COOPY_METRICS'], 'a') as f:\n"
        "    f.write(json.dumps({'acc': int(sys.argv[1]) + 0.5}) + '\\n')\n"
    )
    return root


def _reads(project: Path, out: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    cfg = str(project / "coopy.toml")
    return {
        "status": coopy("status", cfg, "--json", cwd=project),
        "results": coopy("results", cfg, "--format", "json", cwd=project),
        "export": coopy("export", cfg, "--format", "json", cwd=project),
        "plan": coopy("plan", cfg, "--json", cwd=project),
        "why": coopy("why", cfg, "train", "model=cnn,seed=0", cwd=project),
        "report": coopy("report", cfg, "-o", str(out / "report.html"), cwd=project),
    }


def _check(answers: dict[str, subprocess.CompletedProcess[str]]) -> None:
    for verb, answer in answers.items():
        assert answer.returncode == 0, f"coopy {verb}: exit {answer.returncode}: {answer.stderr.strip()}"
        assert "cannot write" not in answer.stderr + answer.stdout, f"coopy {verb}: {answer.stderr.strip()}"


def test_every_reading_verb_works_on_a_finished_pipeline_that_cannot_be_written(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    done = coopy("run", str(project / "coopy.toml"), cwd=project, timeout=120)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    out.mkdir()
    with read_only_copy(project, tmp_path / "ro") as ro:  # as the engine left it: no -shm file (readers make one)
        assert not writable(ro / ".coopy")
        before = sorted(p.name for p in (ro / ".coopy").iterdir())
        assert "state.sqlite-shm" not in before
        answers = _reads(ro, out)
        _check(answers)
        assert sorted(p.name for p in (ro / ".coopy").iterdir()) == before
    writable_answers = _reads(project, tmp_path)
    _check(writable_answers)
    status = json.loads(answers["status"].stdout)
    assert {r["state"] for r in status["runs"] if r["stage"] == "evaluate"} == {"done"}
    rows = json.loads(answers["results"].stdout)
    assert rows == json.loads(writable_answers["results"].stdout)
    assert sorted(str(r["metrics"]["acc"]) for r in rows["rows"]) == ["0.5", "0.5", "1.5", "1.5"]
    assert json.loads(answers["plan"].stdout) == json.loads(writable_answers["plan"].stdout)
    assert answers["why"].stdout == writable_answers["why"].stdout
    assert (out / "report.html").stat().st_size > 1000


def test_a_store_left_with_its_write_ahead_log_by_a_killed_engine_reads_from_a_read_only_copy(
    tmp_path: Path,
) -> None:
    """The engine killed by SIGKILL leaves the newest transactions in the -wal file: they are read, not lost, also
    from an archive that kept the log but not SQLite's -shm index (a temp file that archives often leave out)."""
    project = _project(tmp_path / "p", slow="sleep 600")
    engine = coopy_popen("run", str(project / "coopy.toml"), cwd=project, output=tmp_path / "run.out")
    try:

        def train_done() -> bool:
            answer = coopy("status", str(project / "coopy.toml"), "--json", cwd=project)
            if answer.returncode != 0:
                return False
            runs = json.loads(answer.stdout)["runs"]
            return sum(r["stage"] == "train" and r["state"] == "done" for r in runs) == 4

        wait_for(train_done, "the four train runs done", timeout=120)
    finally:
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
    kill_all(processes_mentioning(str(project), environ=True))
    state = project / ".coopy"
    assert (state / "state.sqlite-wal").exists() and (state / "state.sqlite-wal").stat().st_size > 0
    archive = tmp_path / "archive"
    shutil.copytree(project, archive, ignore=shutil.ignore_patterns("*-shm", "*.sock"))
    with read_only_copy(archive, tmp_path / "ro") as ro:
        answer = coopy("status", str(ro / "coopy.toml"), "--json", cwd=ro)
        assert answer.returncode == 0, answer.stderr
        runs = json.loads(answer.stdout)["runs"]
        assert sum(r["stage"] == "train" and r["state"] == "done" for r in runs) == 4
        results = coopy("results", str(ro / "coopy.toml"), "--format", "json", cwd=ro)
        assert results.returncode == 0, results.stderr
        assert sorted(r["metrics"]["acc"] for r in json.loads(results.stdout)["rows"]) == [0.5, 0.5, 1.5, 1.5]
        assert not (ro / ".coopy" / "state.sqlite-shm").exists()
