"""Plug-in calls are a boundary: a Scripter or Detector that raises or returns the wrong thing fails that attempt
with one line naming the plug-in and the problem (retries apply), and the pipeline goes on; one that cannot be
imported or made is found before anything is written (one line, exit 2)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from coopy_core import RunState
from tests.helpers.cli import coopy
from tests.helpers.engine import EngineFactory, run_of, wait_finished, write_config

PLUGINS = '''
import sys
from coopy_core import Detector, Launch, Scripter, Status, Verdict

BAD_VERDICTS = {
    "failed-none": Verdict(Status.FAILED, None),
    "failed-42": Verdict(Status.FAILED, 42),
    "done-none": Verdict(Status.DONE, None),
    "status-bogus": Verdict("bogus", ""),
    "none": None,
    "string": "done",
}


class BadVerdict(Detector):
    """The bad configuration gets the bad verdict named by its `kind`; the others the usual check."""
    polls = False
    def check(self, ctx):
        kind = ctx.params["kind"]
        if kind == "raise":
            raise RuntimeError("the detector broke\\non two lines")
        if kind == "exit":
            sys.exit(3)
        if kind in BAD_VERDICTS:
            return BAD_VERDICTS[kind]
        return super().check(ctx)


class PollsBadly(Detector):
    """Polls while the command runs, and answers with a reason that is not a string."""
    polls = True
    def check(self, ctx):
        if ctx.params["kind"] == "good":
            return super().check(ctx)
        return Verdict(Status.RUNNING, 7)


class BadLaunch(Scripter):
    def script(self, task, attempt):
        kind = task.params["kind"]
        if kind == "good":
            return super().script(task, attempt)
        if kind == "raise":
            raise ValueError("no command for you")
        if kind == "exit":
            sys.exit(4)
        if kind == "none":
            return None
        if kind == "int-argv":
            return Launch(argv=["echo", 42], cwd=self.config.base_dir)
        if kind == "empty-argv":
            return Launch(argv=[], cwd=self.config.base_dir)
        if kind == "env-int":
            return Launch(argv=["true"], cwd=self.config.base_dir, env={"N": 1})
        if kind == "cwd-int":
            return Launch(argv=["true"], cwd=5)
        raise AssertionError(kind)


class BadOutputs(Scripter):
    def outputs(self, task, attempt):
        if task.params["kind"] == "good":
            return super().outputs(task, attempt)
        raise OSError("outputs are gone")


class InitRaises(Detector):
    def __init__(self, stage, config):
        raise RuntimeError("cannot make me")


class NotAPlugin:
    def __init__(self, stage, config):
        pass
'''

DETECTOR_CASES = {
    "failed-none": "returned reason None, not a string",
    "failed-42": "returned reason 42, not a string",
    "done-none": "returned reason None, not a string",
    "status-bogus": "returned status 'bogus', not a Status",
    "none": "returned None, not a Verdict",
    "string": "returned 'done', not a Verdict",
    "raise": "raised RuntimeError: the detector broke on two lines",
    "exit": "raised SystemExit: 3",
}
SCRIPTER_CASES = {
    "raise": "raised ValueError: no command for you",
    "exit": "raised SystemExit: 4",
    "none": "script() returned None, not a Launch",
    "int-argv": "script() returned argv[1] = 42 (int), not a string",
    "empty-argv": "script() returned argv []: a non-empty list of strings is needed",
    "env-int": "script() returned env {'N': 1}: names and values should be strings",
    "cwd-int": "script() returned cwd 5, not a path",
}


def _module(tmp: Path) -> str:
    name = f"plugins_{uuid.uuid4().hex[:12]}"  # modules are cached per process: one per test
    (tmp / f"{name}.py").write_text(PLUGINS)
    return name


def _config(tmp: Path, kinds: list[str], stage_extra: str, command: str = '["true"]', workers: int = 3) -> Path:
    named = "\n".join(f'"{k}" = {{ kind = "{k}" }}' for k in kinds)
    return write_config(
        tmp,
        f"""
        [pipeline]
        poll_interval = 0.1
        [tasks.named]
        good = {{ kind = "good" }}
        {named}
        [[stages]]
        name = "s"
        workers = {workers}
        retries = 1
        backoff = 0
        command = {command}
        {stage_extra}
        [[stages]]
        name = "after"
        command = ["true"]
        """,
    )


def _assert_failed_with(engine: object, cases: dict[str, str], plugin: str) -> None:
    for kind, words in cases.items():
        run = run_of(engine, kind, "s")  # type: ignore[arg-type]
        assert run is not None and run.state == RunState.FAILED, (kind, run)
        assert run.attempt == 2, f"{kind}: the retry applies"
        assert plugin in run.reason and words in run.reason, (kind, run.reason)
        assert "\n" not in run.reason
        after = run_of(engine, kind, "after")  # type: ignore[arg-type]
        assert after is not None and after.state == RunState.BLOCKED
    good = run_of(engine, "good", "after")  # type: ignore[arg-type]
    assert good is not None and good.state == RunState.DONE, "the rest of the pipeline goes on"


async def test_a_detector_returning_the_wrong_thing_fails_the_attempt(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    module = _module(tmp_path)
    cfg = _config(tmp_path, list(DETECTOR_CASES), f'detector = "{module}:BadVerdict"')
    engine = await start_engine(cfg)
    assert await wait_finished(engine) is False  # before: a hang, the runs `running` for ever
    _assert_failed_with(engine, DETECTOR_CASES, f"detector {module}:BadVerdict")


async def test_a_polling_detector_with_a_bad_reason_fails_the_running_attempt(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    module = _module(tmp_path)
    sleeps = '["sh", "-c", "[ $0 = good ] || sleep 60", "{task}"]'
    cfg = _config(tmp_path, ["bad"], f'detector = "{module}:PollsBadly"', command=sleeps)
    engine = await start_engine(cfg)
    assert await wait_finished(engine, timeout=60) is False
    _assert_failed_with(engine, {"bad": "returned reason 7, not a string"}, f"detector {module}:PollsBadly")


@pytest.mark.parametrize("later", [False, True], ids=["first-dispatch", "later-dispatch"])
async def test_a_scripter_returning_the_wrong_thing_fails_the_attempt(
    tmp_path: Path, start_engine: EngineFactory, later: bool
) -> None:
    """At the first dispatch (inside `engine.start()`) and at a later one (after a run ends, workers = 1)."""
    module = _module(tmp_path)
    cfg = _config(tmp_path, list(SCRIPTER_CASES), f'scripter = "{module}:BadLaunch"', workers=1 if later else 9)
    engine = await start_engine(cfg)
    assert await wait_finished(engine) is False
    _assert_failed_with(engine, SCRIPTER_CASES, f"scripter {module}:BadLaunch")


async def test_a_scripter_whose_outputs_raise_fails_the_attempt(tmp_path: Path, start_engine: EngineFactory) -> None:
    module = _module(tmp_path)
    cfg = _config(tmp_path, ["bad"], f'scripter = "{module}:BadOutputs"')
    engine = await start_engine(cfg)
    assert await wait_finished(engine) is False
    _assert_failed_with(engine, {"bad": "raised OSError: outputs are gone"}, f"scripter {module}:BadOutputs")


def test_broken_plugins_through_coopy_run_no_traceback(tmp_path: Path) -> None:
    module = _module(tmp_path)
    cfg = _config(tmp_path, ["none", "int-argv"], f'scripter = "{module}:BadLaunch"')
    out = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("{module}:InitRaises", "cannot be made (RuntimeError: cannot make me)"),
        ("{module}:NotAPlugin", "is not a Detector: it has no check()"),
        ("{module}:Missing", "has no class 'Missing'"),
        ("no_such_module_coopy:Detector", "cannot import 'no_such_module_coopy'"),
    ],
    ids=["init-raises", "not-a-plugin", "no-such-class", "no-such-module"],
)
@pytest.mark.parametrize("how", ["run", "detach"])
def test_a_plugin_that_cannot_be_made_is_found_before_anything_is_written(
    tmp_path: Path, ref: str, words: str, how: str
) -> None:
    module = _module(tmp_path)
    cfg = _config(tmp_path, [], f'detector = "{ref.format(module=module)}"')
    args = ("run", str(cfg)) if how == "run" else ("run", "--detach", str(cfg))
    out = coopy(*args, cwd=tmp_path, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert "stages[0].detector" in out.stderr and words in out.stderr, out.stderr
    assert not (tmp_path / ".coopy").exists(), "nothing is written: no lock, no store, no engine.log"
