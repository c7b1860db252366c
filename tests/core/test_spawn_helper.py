"""`[pipeline] local_start = "helper"`: runs started by one spawn helper per engine instead of a shell wrapper each.

The same pipeline ends the same way with either start (states, exit codes, reasons, logs, the run's folder and
environment); the helper outlives an engine killed with SIGKILL and records how its runs ended, so the next
engine takes their real exit statuses; a helper killed alone loses only its runs' exit statuses (as a killed
wrapper does): they end failed, are retried after the old command is gone, and new runs start with a new helper.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from coopy_core import RunState
from tests.helpers.cli import coopy, coopy_argv, status
from tests.helpers.engine import EngineFactory, wait_finished, wait_state, wait_until, write_config
from tests.helpers.marks import of_kind, read_marks, starts, step_argv
from tests.helpers.processes import kill_all, processes_mentioning, wait_no_processes
from tests.helpers.waiting import wait_for

SHOW = r'echo "out $0 in $(pwd) as $COOPY_RUN_ID"; exit $1'


def helpers_of(tmp: Path) -> list[int]:
    """The live spawn helpers of the pipeline under `tmp` (their command line names its status folder)."""
    found = []
    for pid in processes_mentioning(str(tmp)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_helper.py" in cmdline:
            found.append(pid)
    return found


def ended(marks: Path) -> list[str]:
    """The runs that ended on their own (done or failed), as marked by the step."""
    return [m.run for m in read_marks(marks) if m.kind in ("end", "fail")]


def _sweep_config(tmp: Path, local_start: str) -> Path:
    (tmp / "work").mkdir()
    return write_config(
        tmp,
        f"""
        [pipeline]
        poll_interval = 0.2
        local_start = "{local_start}"
        [tasks.matrix]
        x = [0, 1, 2]
        [[stages]]
        name = "show"
        workers = 2
        cwd = "work"
        command = ["sh", "-c", '{SHOW}', "{{x}}", "{{x}}"]
        [[stages]]
        name = "missing"
        command = "no-such-command-here {{x}}"
        [[stages]]
        name = "pipe"
        needs = ["show"]
        command = ["sh", "-c", "yes | head -n 1"]
        """,
    )


@pytest.mark.parametrize("local_start", ["wrapper", "helper"])
def test_a_pipeline_ends_the_same_with_either_start(tmp_path: Path, local_start: str) -> None:
    cfg = _sweep_config(tmp_path, local_start)
    try:
        out = coopy("run", str(cfg), cwd=tmp_path)
        assert out.returncode == 1, out.stdout + out.stderr
        runs = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
    finally:
        kill_all(processes_mentioning(str(tmp_path)))
    assert {k: (r["state"], r["exit_code"]) for k, r in runs.items() if k[0] == "show"} == {
        ("show", "x=0"): ("done", 0),
        ("show", "x=1"): ("failed", 1),
        ("show", "x=2"): ("failed", 2),
    }
    assert (runs[("missing", "x=0")]["state"], runs[("missing", "x=0")]["exit_code"]) == ("failed", 127)
    assert [runs[("missing", f"x={x}")]["state"] for x in (1, 2)] == ["blocked", "blocked"]
    assert runs[("pipe", "x=0")]["state"] == "done"
    logs = tmp_path / ".coopy" / "logs"
    work = (tmp_path / "work").resolve()
    for x in range(3):
        said = (logs / "show" / f"x={x}.1.log").read_text()
        assert said.startswith(f"out {x} in {work} as ") and said.endswith(f":show/x={x}/1\n"), said
    assert (logs / "pipe" / "x=0.1.log").read_text() == "y\n", "SIGPIPE at its default: no 'Broken pipe'"
    wait_no_processes(str(tmp_path), "no helper or run left")
    exits = list((tmp_path / ".coopy" / "status").glob("helper-*.exits"))
    if local_start == "helper":
        (only,) = exits
        records = [json.loads(line) for line in only.read_bytes().rstrip(b"\0").splitlines() if line]
        assert sorted((r[0].rsplit(":", 1)[1], r[1]) for r in records) == [
            ("missing/x=0/1", 127),
            ("pipe/x=0/1", 0),
            ("show/x=0/1", 0),
            ("show/x=1/1", 1),
            ("show/x=2/1", 2),
        ], "one record per attempt, with its exit status"
        assert not (tmp_path / ".coopy" / "status" / "show").exists(), "no status file per run"
    else:
        assert exits == []


def test_a_command_not_found_fails_with_the_shells_words(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        local_start = "helper"
        [tasks.matrix]
        x = [0]
        [[stages]]
        name = "missing"
        command = "no-such-command-here {x}"
        """,
    )
    out = coopy("run", str(cfg), cwd=tmp_path)
    assert out.returncode == 1
    (run,) = status(cfg)["runs"]
    assert (run["state"], run["exit_code"]) == ("failed", 127)
    assert "not found" in (tmp_path / ".coopy" / "logs" / "missing" / "x=0.1.log").read_text()


def test_the_helper_outlives_a_killed_engine_and_the_next_engine_takes_the_exit_statuses(tmp_path: Path) -> None:
    """SIGKILL of `coopy run` while three runs run: the helper records their ends; the next `coopy run` takes
    them (the one that failed is failed with its exit status, not lost) and runs nothing twice."""
    marks = tmp_path / "marks"
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        local_start = "helper"
        [tasks.named]
        a = {{ fail = 0 }}
        b = {{ fail = 1 }}
        c = {{ fail = 0 }}
        [[stages]]
        name = "s"
        workers = 3
        command = {step_argv(marks, "--seconds", "3", "--fail-attempts", "{fail}")}
        [[stages]]
        name = "t"
        command = {step_argv(marks, "--upstream", "s")}
        """,
    )
    engine = subprocess.Popen(
        [*coopy_argv(), "run", str(cfg)], cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: len(of_kind(read_marks(marks), "start")) == 3, "three runs started")
        engine.send_signal(signal.SIGKILL)
        engine.wait()
        assert helpers_of(tmp_path), "the helper outlives its engine while its runs run"
        wait_for(lambda: len(ended(marks)) == 3 and not helpers_of(tmp_path), "the runs, then the helper, ended")
        final = coopy("run", str(cfg), cwd=tmp_path, timeout=120)
        assert final.returncode == 1, final.stdout + final.stderr
        runs = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
    finally:
        kill_all(processes_mentioning(str(tmp_path), environ=True))
    assert (runs[("s", "b")]["state"], runs[("s", "b")]["exit_code"]) == ("failed", 3)
    assert [runs[("s", n)]["state"] for n in "ac"] == ["done", "done"]
    found = read_marks(marks)
    assert starts(found) == {("s", "a"): 1, ("s", "b"): 1, ("s", "c"): 1, ("t", "a"): 1, ("t", "c"): 1}
    assert of_kind(found, "overlap") == []


async def test_a_helper_killed_alone_loses_only_its_runs_statuses(tmp_path: Path, start_engine: EngineFactory) -> None:
    marks = tmp_path / "marks"
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        local_start = "helper"
        [tasks.named]
        a = {{ n = 1 }}
        b = {{ n = 2 }}
        [[stages]]
        name = "s"
        retries = 1
        backoff = 0
        command = {step_argv(marks, "--seconds", "2")}
        """,
    )
    engine = await start_engine(cfg)
    await wait_until(lambda: of_kind(read_marks(marks), "start"), "the first run to start")
    (helper,) = helpers_of(tmp_path)
    os.kill(helper, signal.SIGKILL)
    assert await wait_finished(engine, timeout=60)
    found = read_marks(marks)
    first = of_kind(found, "start")[0].run
    assert of_kind(found, "overlap") == [], "a retry started while the first attempt still ran"
    assert starts(found) == {("s", first): 2, ("s", "b" if first == "a" else "a"): 1}
    assert [m.attempt for m in of_kind(found, "end") if m.run == first] == [1, 2], "attempt 1 ran to its end"
    lost = [a for a in engine.store.attempts() if a[2] == 1 and a[0] == first]
    assert lost and "without an exit status" in lost[0][5]
    assert {r.state for r in engine.snapshot().runs} == {RunState.DONE}
    assert len(helpers_of(tmp_path)) <= 1, "one new helper at most"


async def test_a_cancel_through_the_helper_is_a_cancel(tmp_path: Path, start_engine: EngineFactory) -> None:
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.2
        local_start = "helper"
        [tasks.named]
        a = { n = 1 }
        [[stages]]
        name = "s"
        command = ["sleep", "60"]
        """,
    )
    engine = await start_engine(cfg)
    run = await wait_state(engine, "a", "s", RunState.RUNNING)
    await wait_until(lambda: engine.snapshot().runs[0].pid, "the helper's answer: the run's pid")
    pid = engine.snapshot().runs[0].pid
    assert pid and Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"), "the command itself, no shell"
    engine.cancel("a", "s")
    cancelled = await wait_state(engine, "a", "s", RunState.CANCELLED)
    assert cancelled.exit_code is None, "stopped by the engine: no exit status of its own"
    assert not Path(f"/proc/{pid}").exists(), "the command is gone (reaped by the helper)"
    assert run.task == "a"


@pytest.mark.parametrize("local_start", ["wrapper", "helper"])
async def test_a_cancel_gives_the_command_its_sigterm(
    tmp_path: Path, start_engine: EngineFactory, local_start: str
) -> None:
    """The helper ignores SIGTERM, SIGINT and SIGHUP itself (its engine's stop is not its own), and an ignored
    signal stays ignored across exec: its runs get them back at their default, so a command can trap them."""
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        local_start = "{local_start}"
        [tasks.named]
        a = {{ n = 1 }}
        [[stages]]
        name = "s"
        command = ["sh", "-c", "trap 'echo got-term; exit 0' TERM; echo started; sleep 60 & wait"]
        """,
    )
    engine = await start_engine(cfg)
    run = await wait_state(engine, "a", "s", RunState.RUNNING)
    log = Path(run.log or "")
    await wait_until(lambda: log.exists() and "started" in log.read_text(), "the command's trap set")
    engine.cancel("a", "s")
    await wait_state(engine, "a", "s", RunState.CANCELLED)
    assert log.read_text() == "started\ngot-term\n"


def test_records_of_ended_helpers_are_removed_and_their_space_given_back(tmp_path: Path) -> None:
    """Each engine's helper has a record file with 1 MiB allocated ahead; an ended helper gives that space back,
    and a later engine's helper removes the files of helpers that ended over a day ago."""
    body = """
        [pipeline]
        local_start = "helper"
        [tasks.matrix]
        x = {xs}
        [[stages]]
        name = "s"
        command = ["true"]
        """
    status_dir = tmp_path / ".coopy" / "status"

    def run_with(xs: str) -> set[Path]:
        cfg = write_config(tmp_path, body.format(xs=xs))
        assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
        wait_no_processes(str(tmp_path), "the helper ended")
        return set(status_dir.glob("helper-*.exits"))

    (first,) = run_with("[0]")
    assert first.stat().st_size < 4096, "the space allocated ahead was given back"
    files = run_with("[0, 1]")
    (second,) = files - {first}
    assert first in files, "an ended helper's records are kept for a day"
    records = [json.loads(line) for line in second.read_text().splitlines() if line]
    assert [r[0].rsplit(":", 1)[1] for r in records] == ["s/x=1/1"]
    day_ago = first.stat().st_mtime - 2 * 86400
    os.utime(first, (day_ago, day_ago))
    files = run_with("[0, 1, 2]")
    assert first not in files and second in files and len(files) == 2


def test_a_turn_that_starts_a_thousand_runs_does_not_wait_on_the_helper(tmp_path: Path) -> None:
    """The engine sends a turn's starts without waiting; the helper's answers and ends fill the socket meanwhile.
    Both block on a full socket, so the engine takes in what the helper says while it sends (before: 500 starts
    in one turn hung both for ever)."""
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        local_start = "helper"
        [tasks.matrix]
        i = {list(range(1000))}
        [[stages]]
        name = "s"
        workers = 1000
        command = ["true"]
        """.replace("{list(range(1000))}", str(list(range(1000)))),
    )
    try:
        out = coopy("run", str(cfg), cwd=tmp_path, timeout=240)
    finally:
        kill_all(processes_mentioning(str(tmp_path)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert {r["state"] for r in status(cfg)["runs"]} == {"done"}
