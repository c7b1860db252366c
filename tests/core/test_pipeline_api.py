"""The Python API: a Pipeline built in Python is the Config the TOML gives (the README's examples and
their twins in docs/python.md, compared through `coopy validate --dump`), with the same one-line errors;
`run()` returns what happened to every run; plug-ins given as Python classes and objects run; misuse
raises at once instead of hanging."""

from __future__ import annotations

import asyncio
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from coopy_core import (
    Config,
    ConfigError,
    DetectContext,
    Detector,
    Engine,
    Launch,
    Matrix,
    Pipeline,
    RunState,
    Scripter,
    Stage,
    StateError,
    Status,
    Task,
    Verdict,
    dump_config,
    load_config,
)
from coopy_core.config import ConfigFile, PipelineConfig, StageConfig, TasksConfig
from coopy_core.pipeline import PIPELINE_KEYS, TABLE_KEYS, TASK_KEYS
from tests.helpers.bad_config_cases import CASES, write_case
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks(path: Path, language: str) -> list[tuple[int, str]]:
    """(line number, text) of each fenced block of `language` in a Markdown file."""
    text = path.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == language]


def _exec_pipeline(code: str, tmp: Path, name: str) -> Pipeline:
    """Run a docs block as its own file in `tmp` (its paths start there, as the TOML's do)."""
    file = tmp / f"{name}.py"
    file.write_text(code)
    namespace: dict[str, Any] = {"__name__": name, "__file__": str(file)}
    exec(compile(code, str(file), "exec"), namespace)
    pipeline = namespace["pipeline"]
    assert isinstance(pipeline, Pipeline)
    return pipeline


# ==================================================================== the twins
def test_every_readme_toml_example_has_a_python_twin_that_says_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the examples describe a machine with GPUs: where NVML is missing, `gpus = "auto"` finds them as it always did
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    examples = _blocks(REPO / "README.md", "toml")
    docs = _blocks(REPO / "docs" / "python.md", "python")
    twins = [(line, code) for line, code in docs if "# twin of README" in code]
    assert len(examples) >= 3
    assert len(twins) == len(examples), "every TOML example of the README needs its twin in docs/python.md"
    for number, ((line, toml_text), (twin_line, code)) in enumerate(zip(examples, twins, strict=True), start=1):
        assert f"# twin of README TOML example {number} " in code, f"docs/python.md:{twin_line}: numbered {number}?"
        folder = tmp_path / f"example{number}"
        folder.mkdir()
        (folder / "coopy.toml").write_text(toml_text)
        from_toml = coopy("validate", "--dump", "coopy.toml", cwd=folder)
        assert from_toml.returncode == 0, f"README.md:{line}: {from_toml.stderr}"
        pipeline = _exec_pipeline(code, folder, f"twin{number}")
        assert pipeline.dump() == from_toml.stdout, f"README.md:{line} and docs/python.md:{twin_line} differ"
        (folder / "twin.py").write_text(code)  # and through the CLI, as `file.py:attribute`
        from_python = coopy("validate", "--dump", "twin.py:pipeline", cwd=folder)
        assert from_python.returncode == 0, from_python.stderr
        assert from_python.stdout == from_toml.stdout
        assert tomllib.loads(from_toml.stdout)["stages"], "the dump is TOML"


def test_every_python_example_in_the_docs_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's and docs/python.md's examples that define a pipeline are valid as written (on a machine with
    GPUs, as the GPU examples say: where NVML is missing, `gpus = "auto"` finds them as it always did)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    blocks = [(REPO / "README.md", b) for b in _blocks(REPO / "README.md", "python")]
    blocks += [(REPO / "docs" / "python.md", b) for b in _blocks(REPO / "docs" / "python.md", "python")]
    built = 0
    for i, (doc, (line, code)) in enumerate(blocks):
        if "pipeline = Pipeline(" not in code:
            compile(code, f"{doc.name}:{line}", "exec")
            continue
        folder = tmp_path / f"block{i}"
        folder.mkdir()
        assert _exec_pipeline(code, folder, f"block{i}").config.stages, f"{doc.name}:{line}"
        built += 1
    assert built >= 5


def test_the_dump_is_a_config_that_loads_to_the_same_dump(tmp_path: Path) -> None:
    pipeline = Pipeline(
        "round-trip",
        matrix=Matrix(model=["a", "b"], seed=range(2)),
        exclude=[{"model": "a", "seed": 1}],
        stages=[Stage("s", ("echo", "{model}", tmp_path / "x"), env={"A": "{seed}"}), Stage("t", "echo {task}")],
    )
    (tmp_path / "dumped.toml").write_text(pipeline.dump())
    again = load_config(tmp_path / "dumped.toml")
    assert dump_config(again) == pipeline.dump()
    assert (
        [t.name for t in again.tasks]
        == [t.name for t in pipeline.config.tasks]
        == ["model=a,seed=0", "model=b,seed=0", "model=b,seed=1"]
    )
    assert again.stages[0].command == ["echo", "{model}", str(tmp_path / "x")]  # tuples and paths as TOML holds them


# ==================================================================== the same checks, the same errors
def _python_keywords(raw: dict[str, Any]) -> dict[str, Any]:
    """A parsed coopy.toml as Pipeline keywords, written as a Python user would."""
    keywords: dict[str, Any] = {}
    for table, value in raw.items():
        if table in ("pipeline", "tasks") and isinstance(value, dict):
            keywords.update(value)
        elif table == "stages" and isinstance(value, list):
            keywords["stages"] = [
                Stage(**s) if isinstance(s, dict) and isinstance(s.get("name"), str) else s for s in value
            ]
        else:
            keywords[table] = value
    return keywords


def _python_key(toml_key: str, raw: dict[str, Any]) -> str:
    for table in ("pipeline", "tasks"):
        if isinstance(raw.get(table), dict) and toml_key.startswith(table + "."):
            return toml_key[len(table) + 1 :]
    return toml_key


def test_python_gives_the_tomls_errors_for_the_whole_bad_config_table(tmp_path: Path, monkeypatch) -> None:
    """Every case of the bad-config table that TOML can parse, built in Python instead: the same message,
    the key named as the Python code wrote it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    compared = 0
    for case in CASES:
        if not isinstance(case.text, str) or case.text == "DIR":
            continue
        try:
            raw = tomllib.loads(case.text)
        except tomllib.TOMLDecodeError:
            continue
        path = write_case(case, tmp_path / case.id)
        monkeypatch.syspath_prepend(str(path.parent))  # the case's plug-in folder, as the TOML's is
        with pytest.raises(ConfigError) as from_toml:
            load_config(path)
        keywords = _python_keywords(raw)
        with pytest.raises(ConfigError) as from_python:
            Pipeline(base_dir=path.parent, **keywords)
        toml_error, python_error = from_toml.value, from_python.value
        assert python_error.key == _python_key(toml_error.key, raw), case.id
        hint = re.sub(r" \(add .*\)$", "", toml_error.message)
        assert python_error.message.startswith(hint), f"{case.id}: {python_error.message!r} vs {toml_error.message!r}"
        assert len(str(python_error).splitlines()) == 1
        assert re.match(r"\S*test_pipeline_api\.py:\d+: ", str(python_error)), str(python_error)  # file:line
        compared += 1
    assert compared >= 50


def test_an_error_names_the_python_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "from coopy_core import Pipeline, Stage\n"
        "pipeline = Pipeline(\n"
        "    matrix={'x': [1, 2]},\n"
        "    stages=[\n"
        "        Stage('a', ['echo', '{x}']),\n"
        "        Stage('b', ['echo'], workers=0),\n"
        "    ],\n"
        ")\n"
    )
    result = coopy("run", "bad.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("coopy: bad.py:6: stages[1].workers: should be greater than or equal to 1, got 0\n"), (
        result.stderr
    )
    assert not (tmp_path / ".coopy").exists(), "nothing written"
    (tmp_path / "bad2.py").write_text("from coopy_core import Pipeline\npipeline = Pipeline(poll_interval='2')\n")
    assert coopy("validate", "bad2.py", cwd=tmp_path).stderr == (
        "coopy: bad2.py:2: poll_interval: should be a number, got '2'\n"
    )


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("x = 1/0\npipeline = None", "bad.py: cannot load the pipeline: ZeroDivisionError: division by zero (line 1)"),
        ("import sys\nsys.exit(3)", "the file exited while being loaded (exit 3)"),
        ("pipeline = 42", "'pipeline' should be a coopy Pipeline, got int"),
        ("other = 1", "bad.py: has no 'pipeline'"),
        (
            "from coopy_core import Pipeline, Stage\n"
            "pipeline = Pipeline(matrix={'x': [1]}, stages=[Stage('s', ['true'])])\n"
            "pipeline.run()\n",
            'put the code that runs it under `if __name__ == "__main__":`',
        ),
    ],
)
def test_a_python_file_that_cannot_be_loaded_is_one_line(tmp_path: Path, code: str, words: str) -> None:
    (tmp_path / "bad.py").write_text(code)
    for command in ("validate", "run", "status"):
        result = coopy(command, "bad.py", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
        assert words in result.stderr, result.stderr
    assert not (tmp_path / ".coopy").exists()


def test_a_new_key_in_the_models_needs_no_api_change() -> None:
    """Pipeline and Stage take the models' keys as they are: every field of every table routes, and no
    key is claimed by two tables (a `[tui]` table or a stage's `ray` key added later just works)."""
    assert set(PipelineConfig.model_fields) == PIPELINE_KEYS
    assert set(TasksConfig.model_fields) == TASK_KEYS
    assert set(ConfigFile.model_fields) - {"stages"} == TABLE_KEYS
    own = {"name", "stages", "base_dir"}
    for a, b in ((PIPELINE_KEYS, TASK_KEYS), (PIPELINE_KEYS, TABLE_KEYS), (TASK_KEYS, TABLE_KEYS)):
        assert not (a & b) - own, f"a key claimed by two tables: {(a & b) - own}"
    assert not (TASK_KEYS | TABLE_KEYS) & (own - {"name"})
    for key, field in StageConfig.model_fields.items():  # every stage key passes through Stage(**keys)
        if key in ("name", "command") or field.is_required():
            continue
        value = field.get_default(call_default_factory=True)
        if value is None:
            continue
        stage = Pipeline(matrix={"x": [1]}, stages=[Stage("s", ["true"], **{key: value})]).config.stages[0]
        assert getattr(stage, key) == value, key


# ==================================================================== run() and its results
def _counting_pipeline(tmp: Path, **keys: Any) -> Pipeline:
    """`a` appends a marker line per execution; `b` fails for x=2 twice (retries=1) and passes otherwise."""
    return Pipeline(
        "counted",
        base_dir=tmp,
        poll_interval=0.5,
        matrix=Matrix(x=[1, 2, 3]),
        stages=[
            Stage("a", ["sh", "-c", "sleep 0.2; echo a $0 >> marks.txt", "{task}"], workers=2),
            Stage(
                "b",
                ["sh", "-c", 'echo b $0 >> marks.txt; [ "$0" = x=2 ] && exit 3; exit 0', "{task}"],
                retries=1,
                backoff=0.1,
            ),
            Stage("c", ["sh", "-c", "echo c $0 >> marks.txt", "{task}"]),
        ],
        **keys,
    )


def _marks(tmp: Path) -> list[str]:
    path = tmp / "marks.txt"
    return sorted(path.read_text().splitlines()) if path.exists() else []


def test_run_returns_every_run_with_its_attempts(tmp_path: Path) -> None:
    pipeline = _counting_pipeline(tmp_path)
    before = pipeline.status()
    assert [(r.stage, r.task, r.state) for r in before][:1] == [("a", "x=1", RunState.WAITING)]
    assert len(before) == 9 and not before.finished and before.engine_pid is None
    assert not (tmp_path / ".coopy").exists(), "status() starts nothing and writes nothing"

    results = pipeline.run(progress=False)
    assert _marks(tmp_path) == sorted(["a x=1", "a x=2", "a x=3", "b x=1", "b x=2", "b x=2", "b x=3", "c x=1", "c x=3"])
    assert results.finished and not results.passed
    states = {(r.stage, r.task): r.state for r in results}
    assert states[("b", "x=2")] == RunState.FAILED and states[("c", "x=2")] == RunState.BLOCKED
    assert [(r.stage, r.task) for r in results.failed] == [("b", "x=2"), ("c", "x=2")]
    flaky = results.run("b", "x=2")
    assert [(a.number, a.state, a.exit_code) for a in flaky.attempts] == [
        (1, RunState.FAILED, 3),
        (2, RunState.FAILED, 3),
    ]
    assert all(Path(a.log).exists() for a in flaky.attempts) and flaky.exit_code == 3
    slow = results.run("a", "x=1")
    assert slow.passed and len(slow.attempts) == 1 and slow.attempts[0].exit_code == 0
    assert slow.duration is not None and slow.duration >= 0.2
    assert slow.attempts[0].duration == slow.duration
    assert results.run("c", "x=2").attempts == ()
    with pytest.raises(KeyError, match="no stage named 'nope'"):
        results.run("nope", "x=1")
    assert "b: done 2, failed 1 (of 3)" in results.summary()
    assert pipeline.status() == results  # read again from the store: the same

    again = pipeline.run(progress=False)  # nothing left to do: nothing runs again
    assert _marks(tmp_path) == sorted(["a x=1", "a x=2", "a x=3", "b x=1", "b x=2", "b x=2", "b x=3", "c x=1", "c x=3"])
    assert again == results


def test_run_prints_progress_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _counting_pipeline(tmp_path).run(progress=True)
    out = capsys.readouterr().out
    assert "running   a x=1 attempt 1" in out
    assert "warning: b/x=2 attempt 1 failed: exit code 3 (retrying in 0.1s)" in out
    assert "blocked   c x=2 (waits on b/x=2, which failed)" in out
    assert re.search(r"^a \[0/2\] .*done 3/3  failed 0  done$", out, re.M), out


def test_run_from_another_thread(tmp_path: Path) -> None:
    """Signal handlers belong to the main thread: run() elsewhere goes without them, and works."""
    import threading

    got: list[Any] = []
    worker = threading.Thread(target=lambda: got.append(_counting_pipeline(tmp_path).run(progress=False)))
    worker.start()
    worker.join(60)
    assert got and len(got[0].failed) == 2 and len(_marks(tmp_path)) == 9


async def test_run_async_on_the_callers_loop(tmp_path: Path) -> None:
    pipeline = _counting_pipeline(tmp_path)
    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        pipeline.run()
    results = await pipeline.run_async()
    assert len(results.failed) == 2 and len(_marks(tmp_path)) == 9


# ==================================================================== plug-ins as Python classes and objects
class EchoScripter(Scripter):
    """A class: made by the engine with (stage, config)."""

    def script(self, task: Task, attempt: int) -> Launch:
        code = f"open('marks.txt', 'a').write('{self.stage.name} {task.name} {attempt}\\n')"
        return Launch(argv=[sys.executable, "-c", code], cwd=self.config.base_dir)


class WriterScripter(Scripter):
    """An object with its own state: writes `out/<task>.txt` a moment after it started."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.made: list[str] = []

    def script(self, task: Task, attempt: int) -> Launch:
        self.made.append(task.name)
        shell = f"sleep {self.delay}; mkdir -p out; echo {task.name} > out/{task.name}.txt; sleep 30"
        return Launch(argv=["sh", "-c", shell], cwd=self.config.base_dir)


class FileDetector(Detector):
    """An object: done when the run's file appears (the process may still run: the engine stops it)."""

    polls = True

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.asked = 0

    def check(self, ctx: DetectContext) -> Verdict:
        self.asked += 1
        if (self.config.base_dir / self.folder / f"{ctx.task}.txt").exists():
            return Verdict(Status.DONE)
        return Verdict(Status.RUNNING, "waiting for its file")


def test_scripters_and_detectors_as_classes_and_objects(tmp_path: Path) -> None:
    writer = WriterScripter(delay=0.3)
    detector = FileDetector("out")
    pipeline = Pipeline(
        base_dir=tmp_path,
        poll_interval=0.2,
        named={"one": {"k": 1}, "two": {"k": 2}},
        stages=[
            Stage("write", workers=2, scripter=writer, detector=detector, timeout=20),
            Stage("echo", scripter=EchoScripter),
            Stage("plain", ["sh", "-c", "echo plain $0 >> marks.txt", "{task}"], detector="coopy_core:Detector"),
        ],
    )
    dumped = pipeline.dump().split("[[stages]]")
    assert f'scripter = "{__name__}:WriterScripter"' in dumped[1]  # an object: shown by its class
    assert f'scripter = "{__name__}:EchoScripter"' in dumped[2] and "scripter" not in dumped[3]
    results = pipeline.run()
    assert results.passed, results.summary()
    assert sorted(writer.made) == ["one", "two"]  # the very object given was used
    assert detector.asked >= 2 and detector.stage.name == "write"  # bound to its stage, polled
    assert _marks(tmp_path) == ["echo one 1", "echo two 1", "plain one", "plain two"]
    write = results.run("write", "one")
    assert write.state == RunState.DONE and write.attempts[0].duration < 20  # done by the file, not the exit


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"scripter": int}, "stages[0].scripter: should be a subclass of Scripter, got the class int"),
        ({"detector": object()}, "stages[0].detector: should be a Detector subclass, an instance of one"),
        ({"detector": EchoScripter}, "stages[0].detector: should be a subclass of Detector"),
    ],
)
def test_a_wrong_plugin_is_one_line_naming_the_key(keys: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        Pipeline(matrix={"x": [1]}, stages=[Stage("s", ["true"], **keys)])


def test_one_plugin_object_serves_one_stage() -> None:
    shared = FileDetector("out")
    with pytest.raises(ConfigError, match=r"stages\[1\]\.detector: the same object is given to stages\[0\]"):
        Pipeline(
            matrix={"x": [1]}, stages=[Stage("a", ["true"], detector=shared), Stage("b", ["true"], detector=shared)]
        )


class BrokenScripter(Scripter):
    def __init__(self, stage: Any, config: Any) -> None:
        raise ValueError("no GPU here")


async def test_a_plugin_class_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    pipeline = Pipeline(base_dir=tmp_path, matrix={"x": [1]}, stages=[Stage("s", scripter=BrokenScripter)])
    with pytest.raises(ConfigError, match=r"stages\[0\]\.scripter: cannot be made \(ValueError: no GPU here\)"):
        await Engine(pipeline.config).start()
    assert not (tmp_path / ".coopy").exists(), "found before anything is written"


# ==================================================================== misuse raises instead of hanging
async def test_engine_misuse_raises_at_once(tmp_path: Path) -> None:
    pipeline = _counting_pipeline(tmp_path)
    engine = Engine(pipeline.config)
    for call in (
        lambda: engine.snapshot(),
        lambda: engine.stage_view("a"),
        lambda: engine.pause("a"),
        lambda: engine.add_task({"x": 9}),
        lambda: engine.set_pool("gpus", 1),
    ):
        with pytest.raises(RuntimeError, match=r"call `await engine.start\(\)` first"):
            call()
    with pytest.raises(RuntimeError, match="call `await engine.start"):
        await asyncio.wait_for(engine.run_until_finished(), 5)
    await engine.start()
    try:
        with pytest.raises(RuntimeError, match="once per Engine"):
            await engine.start()
        waiter = asyncio.ensure_future(engine.run_until_finished())
        await asyncio.sleep(0.05)
    finally:
        await engine.shutdown(stop_running=True)
    with pytest.raises(RuntimeError, match="shut down before the pipeline finished"):
        await asyncio.wait_for(waiter, 5)  # a waiter is told, not left hanging
    with pytest.raises(RuntimeError, match="takes no more commands"):
        engine.pause("a")
    with pytest.raises(RuntimeError, match="was shut down; make a new Engine"):
        await engine.start()
    with pytest.raises(RuntimeError, match="shut down before"):
        await asyncio.wait_for(engine.run_until_finished(), 5)
    assert engine.snapshot().stages  # the last view stays readable
    with pytest.raises(TypeError, match="Engine needs a Config"):
        Engine(str(tmp_path / "coopy.toml"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Engine needs a Config"):
        Engine(pipeline)  # type: ignore[arg-type]


def test_run_until_finished_on_another_loop_raises(tmp_path: Path) -> None:
    engine = Engine(_counting_pipeline(tmp_path).config)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(engine.start())
        with pytest.raises(RuntimeError, match="event loop that started it"):
            asyncio.run(asyncio.wait_for(engine.run_until_finished(), 5))
    finally:
        loop.run_until_complete(engine.shutdown(stop_running=True))
        loop.close()


async def test_run_while_another_engine_owns_the_state_dir(tmp_path: Path) -> None:
    pipeline = _counting_pipeline(tmp_path)
    engine = Engine(pipeline.config)
    await engine.start()
    try:
        with pytest.raises(StateError, match="another coopy engine"):
            await pipeline.run_async()
    finally:
        await engine.shutdown(stop_running=True)


def test_a_config_from_toml_runs_from_python_too(tmp_path: Path) -> None:
    """`load_config` + the same runner: TOML users get run() and Results as well."""
    from coopy_core.runner import run

    path = write_config(
        tmp_path,
        """
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "s"
        command = ["sh", "-c", "echo $0 >> marks.txt", "{task}"]
        """,
    )
    config = load_config(path)
    assert isinstance(config, Config)
    results = run(config, progress=False)
    assert results.passed and _marks(tmp_path) == ["x=1", "x=2"]
