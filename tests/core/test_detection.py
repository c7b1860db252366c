"""How completion is known: skip_if_done, outputs that appear after the exit, custom
Detector and Scripter plug-ins from a module next to the config, event-driven hand-off."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from coopy_core import Event, EventKind, RunState
from tests.helpers.engine import EngineFactory, run_of, state_of, wait_finished, wait_state, wait_until, write_config
from tests.helpers.processes import session_members, wait_gone


async def test_skip_if_done(tmp_path: Path, start_engine: EngineFactory) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "have.txt").write_text("made earlier\n")
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 30

        [tasks.named]
        have = { n = 1 }
        need = { n = 2 }

        [[stages]]
        name = "make"
        done_when = ["out/{task}.txt"]
        skip_if_done = true
        command = ["sh", "-c", "echo $1 >> ran.txt; echo made > out/$1.txt", "sh", "{task}"]

        [[stages]]
        name = "use"
        command = ["sh", "-c", "cat out/$1.txt >> used.txt", "sh", "{task}"]
        """,
    )
    engine = await start_engine(path)
    assert await wait_finished(engine)
    skipped = run_of(engine, "have", "make")
    assert skipped is not None
    assert (skipped.state, skipped.attempt, skipped.pid) == (RunState.SKIPPED, 0, None)
    assert "already exist" in skipped.reason
    assert not (tmp_path / ".coopy" / "logs" / "make" / "have.1.log").exists()
    assert state_of(engine, "need", "make") == RunState.DONE
    assert (tmp_path / "ran.txt").read_text() == "need\n"  # the skipped one never ran
    assert state_of(engine, "have", "use") == RunState.DONE  # ...and still moved on
    assert sorted((tmp_path / "used.txt").read_text().splitlines()) == ["made", "made earlier"]
    view = engine.stage_view("make")
    assert (view.counts["skipped"], view.counts["done"]) == (1, 1)


async def test_output_appearing_after_exit(tmp_path: Path, start_engine: EngineFactory) -> None:
    """The command exits 0 before a background job writes its output: the run stays open
    until the file appears (found by the poll), then hands off."""
    (tmp_path / "out").mkdir()
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.2

        [tasks.named]
        late = { n = 1 }

        [[stages]]
        name = "make"
        done_when = ["out/{task}.txt"]
        command = ["sh", "-c", "(until [ -e gate ]; do sleep 0.05; done; echo ok > out/$1.txt) & exit 0",
                   "sh", "{task}"]

        [[stages]]
        name = "use"
        command = ["cat", "out/{task}.txt"]
        """,
    )
    output = tmp_path / "out" / "late.txt"
    seen: list[tuple[RunState, str, bool]] = []

    def on_event(event: Event) -> None:
        if event.kind == EventKind.RUN and event.run and event.run.stage == "make":
            seen.append((event.run.state, event.run.reason, output.exists()))

    engine = await start_engine(path, on_event)
    await wait_until(lambda: any("waiting for output" in reason for _s, reason, _e in seen), "the exit to be noticed")
    run = run_of(engine, "late", "make")
    assert run is not None and run.state == RunState.RUNNING
    await asyncio.sleep(0.6)  # a few polls: still no output, still open
    run = run_of(engine, "late", "make")
    assert run is not None and run.state == RunState.RUNNING and not output.exists()
    (tmp_path / "gate").touch()  # now the background job writes the output
    done = await wait_state(engine, "late", "make", RunState.DONE)
    assert done.exit_code == 0
    # never done before the file existed
    assert [exists for state, _r, exists in seen if state == RunState.DONE] == [True]
    assert await wait_finished(engine)
    assert state_of(engine, "late", "use") == RunState.DONE


PLUGIN = '''
import sys
from pathlib import Path

from coopy_core import DetectContext, Detector, Launch, Scripter, Status, Verdict


class LogDetector(Detector):
    """Done when the log says RESULT=good, whatever the exit status."""

    polls = False

    def check(self, ctx: DetectContext) -> Verdict:
        if ctx.exit_code is None:
            return Verdict(Status.RUNNING)
        if "RESULT=good" in ctx.log.read_text():
            return Verdict(Status.DONE, f"good result (exit {ctx.exit_code})")
        return Verdict(Status.FAILED, "no good result in the log")


class FlagDetector(Detector):
    """Polls while the process runs: done as soon as flags/<task> exists."""

    polls = True

    def check(self, ctx: DetectContext) -> Verdict:
        if (Path(self.config.base_dir) / "flags" / ctx.task).exists():
            return Verdict(Status.DONE, "flag seen")
        return Verdict(Status.RUNNING, "no flag yet")


class PyScripter(Scripter):
    def script(self, task, attempt):
        code = "import sys; print('RESULT=' + sys.argv[1]); sys.exit(int(sys.argv[2]))"
        argv = [sys.executable, "-c", code, str(task.params["result"]), str(task.params["code"])]
        return Launch(argv=argv, cwd=self.config.base_dir, env={"FROM_SCRIPTER": task.name})
'''


async def test_custom_detector_and_scripter(tmp_path: Path, start_engine: EngineFactory) -> None:
    module = f"plug_{uuid.uuid4().hex[:12]}"  # unique: modules are cached per process
    (tmp_path / f"{module}.py").write_text(PLUGIN)
    (tmp_path / "flags").mkdir()
    path = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2

        [tasks.named]
        good = {{ result = "good", code = 1 }}
        bad = {{ result = "bad", code = 0 }}

        [[stages]]
        name = "py"
        workers = 2
        scripter = "{module}:PyScripter"
        detector = "{module}:LogDetector"

        [[stages]]
        name = "flag"
        detector = "{module}:FlagDetector"
        command = ["sh", "-c", "sleep 300", "sh", "{{task}}"]
        """,
    )
    engine = await start_engine(path)
    good = await wait_state(engine, "good", "py", RunState.DONE)
    assert (good.exit_code, good.reason) == (1, "good result (exit 1)")  # the detector decides
    bad = await wait_state(engine, "bad", "py", RunState.FAILED)
    assert (bad.exit_code, bad.reason) == (0, "no good result in the log")
    assert Path(good.log).read_text() == "RESULT=good\n"

    running = await wait_state(engine, "good", "flag", RunState.RUNNING)
    sid = running.pid or 0
    await asyncio.sleep(0.5)  # a few polls: no flag, still running
    assert state_of(engine, "good", "flag") == RunState.RUNNING
    (tmp_path / "flags" / "good").touch()
    done = await wait_state(engine, "good", "flag", RunState.DONE)
    assert done.reason == "flag seen"
    await wait_gone(lambda: session_members(sid), "the run the detector declared done")  # leftovers stopped
    assert await wait_finished(engine) is False  # "bad" failed
    assert state_of(engine, "bad", "flag") == RunState.BLOCKED  # waits on a failed run: never starts


async def test_hand_off_is_event_driven(tmp_path: Path, start_engine: EngineFactory) -> None:
    """With a 30 s poll interval, a 3-stage chain of quick commands still finishes long
    before the first poll: each end dispatches the next stage at once."""
    (tmp_path / "out").mkdir()
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 30

        [tasks.matrix]
        x = [1, 2, 3, 4]

        [[stages]]
        name = "a"
        workers = 2
        done_when = ["out/{task}.a"]
        command = ["sh", "-c", "echo a $1 >> trace.txt; touch out/$1.a", "sh", "{task}"]

        [[stages]]
        name = "b"
        workers = 2
        command = ["sh", "-c", "echo b $1 >> trace.txt", "sh", "{task}"]

        [[stages]]
        name = "c"
        workers = 2
        command = ["sh", "-c", "echo c $1 >> trace.txt", "sh", "{task}"]
        """,
    )
    began = time.monotonic()
    engine = await start_engine(path)
    assert await wait_finished(engine, timeout=10)  # far below one poll interval
    assert time.monotonic() - began < 10
    trace = [line.split() for line in (tmp_path / "trace.txt").read_text().splitlines()]
    assert len(trace) == 12
    for task in ("x=1", "x=2", "x=3", "x=4"):
        assert [s for s, t in trace if t == task] == ["a", "b", "c"]
