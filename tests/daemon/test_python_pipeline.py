"""A pipeline defined in Python, run by the background engine: the engine process loads it again by the
name it was given (`file.py:attribute`, `module:attribute`), with its Scripter class; after a kill -9 of
the engine the next start re-adopts the running commands. Executions are counted by marker lines."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from coopy_core import Config, RunState, load_target
from coopy_core.outcome import collect
from coopy_core.wire.daemon import connect
from coopy_core.wire.remote import EngineUnavailable
from tests.helpers.cli import coopy
from tests.helpers.processes import kill_all, processes_mentioning
from tests.helpers.waiting import poll

PIPELINE = '''
import sys
from coopy_core import Launch, Matrix, Pipeline, Scripter, Stage, Task

MARKER = "{marker}"


class GatedScripter(Scripter):
    """Waits for gates/go, then appends a marker line: one line per execution."""

    def script(self, task: Task, attempt: int) -> Launch:
        shell = (
            "echo started $0 >> marks.txt; until [ -e gates/go ]; do sleep 0.05; done; "
            "echo ran $0 >> marks.txt"
        )
        return Launch(argv=["sh", "-c", shell, task.name, MARKER], cwd=self.config.base_dir)


{name} = Pipeline(
    "from-python",
    poll_interval=0.5,
    matrix=Matrix(seed=[1, 2]),
    stages=[
        Stage("work", workers=2, scripter=GatedScripter),
        Stage("after", ["sh", "-c", "echo after $0 >> marks.txt", "{{task}}"]),
    ],
)

if __name__ == "__main__":
    sys.exit("the engine must not run this file as a script")
'''


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    marker = f"coopy-py-{tmp_path.name}"
    (tmp_path / "gates").mkdir()
    yield tmp_path
    for spec in ("flow.py:my_pipeline", "flows.sweep:my_pipeline"):
        with contextlib.suppress(Exception):  # clean-up only: whichever of the two the test made
            client = connect(_config(tmp_path, spec))
            client.stop(stop_running=True)
            client.close()
    kill_all(processes_mentioning(marker))


def _config(folder: Path, spec: str) -> Config:
    cwd = os.getcwd()
    try:
        os.chdir(folder)
        return load_target(spec)
    finally:
        os.chdir(cwd)


def _status(folder: Path, spec: str) -> dict:
    out = coopy("status", spec, "--json", cwd=folder)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _marks(folder: Path) -> list[str]:
    path = folder / "marks.txt"
    return sorted(path.read_text().splitlines()) if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


@pytest.mark.parametrize("layout", ["file", "module"])
def test_python_pipeline_in_the_background_survives_kill_9(project: Path, layout: str) -> None:
    marker = f"coopy-py-{project.name}"
    code = PIPELINE.format(marker=marker, name="my_pipeline")
    if layout == "file":
        (project / "flow.py").write_text(code)
        spec = "flow.py:my_pipeline"
        base = project
    else:  # a module of a package, imported from the folder the command runs in
        base = project / "flows"  # its paths start at its own folder, as a file's do
        base.mkdir()
        (base / "__init__.py").write_text("")
        (base / "sweep.py").write_text(code)
        (base / "gates").mkdir()
        spec = "flows.sweep:my_pipeline"

    first = coopy("run", "--detach", spec, cwd=project)
    assert first.returncode == 0, first.stderr
    poll(lambda: len(processes_mentioning(marker)) >= 2, 30, "both gated runs to start")
    before = _status(project, spec)
    engine = before["engine_pid"]
    assert engine and before["live"] is True and before["pipeline"] == "from-python"
    running = {r["task"]: r for r in before["runs"] if r["stage"] == "work" and r["state"] == "running"}
    assert sorted(running) == ["seed=1", "seed=2"]
    meta = connect(_config(project, spec))
    try:
        assert meta.info["config"].endswith("flow.py" if layout == "file" else "sweep.py")
    finally:
        meta.close()
    live = collect(_config(project, spec))  # what Pipeline.status() returns: from the live engine
    assert live.engine_pid == engine and not live.finished
    assert [(r.task, r.state, len(r.attempts)) for r in live.of_stage("work")] == [
        ("seed=1", RunState.RUNNING, 1),
        ("seed=2", RunState.RUNNING, 1),
    ]

    os.kill(engine, signal.SIGKILL)
    poll(lambda: not _alive(engine), 10, "the engine to die")
    assert all(_alive(r["pid"]) for r in running.values()), "the commands outlive the engine"
    assert _status(project, spec)["engine_pid"] is None

    again = coopy("run", "--detach", spec, cwd=project)  # from the same name: re-adopt, never start again
    assert again.returncode == 0, again.stderr
    adopted = _status(project, spec)
    assert adopted["engine_pid"] not in (None, engine)
    now = {r["task"]: r for r in adopted["runs"] if r["stage"] == "work"}
    assert {t: (r["attempt"], r["pid"]) for t, r in now.items()} == {
        t: (r["attempt"], r["pid"]) for t, r in running.items()
    }
    (base / "gates" / "go").touch()
    poll(
        lambda: sum(r["state"] == "done" for r in _status(project, spec)["runs"]) == 4,
        30,
        "every run done",
    )
    assert _marks(base) == [
        "after seed=1",
        "after seed=2",
        "ran seed=1",
        "ran seed=2",
        "started seed=1",
        "started seed=2",
    ], "every command ran exactly once"
    final = _status(project, spec)
    assert {(r["stage"], r["attempt"]) for r in final["runs"]} == {("work", 1), ("after", 1)}
    log = (base / ".coopy" / "engine.log").read_text()
    assert "the engine must not run this file" not in log
    stop = coopy("stop", spec, cwd=project)
    assert stop.returncode == 0, stop.stderr
    with contextlib.suppress(EngineUnavailable):
        poll(lambda: _status(project, spec)["engine_pid"] is None, 20, "the engine to stop")


def test_the_tui_attaches_to_a_python_pipeline(project: Path) -> None:
    """`coopy-tui file.py:attribute` starts the background engine with it and shows its stages."""
    import shutil

    from tests.helpers.tmux import Tmux, tui_command

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (.ci/run installs it)")
    marker = f"coopy-py-{project.name}"
    (project / "flow.py").write_text(PIPELINE.format(marker=marker, name="my_pipeline"))
    spec = "flow.py:my_pipeline"
    tmux = Tmux(project)
    try:
        tmux.start(tui_command() + " " + spec)
        screen = poll(
            lambda: tmux.screen_if(lambda s: "work" in s and "after" in s and "running" in s),
            60,
            "the pipeline's stages, running",
        )
        assert "from-python" in screen
        engine = _status(project, spec)["engine_pid"]
        assert engine and _alive(engine), "a background engine serves it"
        tmux.keys("q")
        poll(lambda: "Detach" in tmux.screen(), 30, "the quit question")
        tmux.keys("d")
        poll(lambda: "EXITED 0" in tmux.screen(), 30, "coopy-tui to exit")
        assert _alive(engine), "detached: the engine goes on"
        (project / "gates" / "go").touch()
        poll(lambda: len(_marks(project)) == 6, 30, "the pipeline to finish with no screen")
    finally:
        tmux.kill()
