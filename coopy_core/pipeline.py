"""The Python API: a pipeline built in Python is the same Config a coopy.toml gives.

    pipeline = Pipeline(
        "demo",
        matrix=Matrix(model=["mlp", "cnn"], seed=[1, 2]),
        stages=[
            Stage("train", ["python3", "train.py", "--model", "{model}"], workers=2, retries=1),
            Stage("evaluate", ["python3", "evaluate.py", "{task}"]),
        ],
    )
    results = pipeline.run()

Every keyword is a key of the file: `Pipeline(**keys)` takes the keys of `[pipeline]` (name,
poll_interval, state_dir, ...), of `[tasks]` (matrix, named, exclude) and the other top-level tables
(resources, ...); `Stage(name, command, **keys)` the keys of a `[[stages]]` table. Nothing is
checked here: the plain data goes through `config_from_dict`, the same models and checks as the TOML,
so a key added to the file is a keyword here with no change, and a mistake is the same one-line
ConfigError, naming the Python file and line and the key as written here (`stages[1].workers`).
Scripters and Detectors may be given as classes or objects instead of `"module:Class"` strings.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from coopy_core.config import (
    Config,
    ConfigFile,
    PipelineConfig,
    TasksConfig,
    config_from_dict,
    dump_config,
)
from coopy_core.detector import Detector
from coopy_core.errors import ConfigError
from coopy_core.scripter import Scripter

if TYPE_CHECKING:
    from coopy_core.outcome import Results
    from coopy_core.plan.dryrun import Plan

PIPELINE_KEYS = frozenset(PipelineConfig.model_fields)
TASK_KEYS = frozenset(TasksConfig.model_fields)
TABLE_KEYS = frozenset(ConfigFile.model_fields) - {"stages"}  # pipeline, tasks, resources, ...


class Matrix(dict[str, Any]):
    """The cartesian product of parameters: `Matrix(model=["mlp", "cnn"], seed=[1, 2])` is four
    configurations, named like `model=cnn,seed=1` (the same as `[tasks.matrix]`)."""

    def __init__(self, **params: Sequence[Any]) -> None:
        super().__init__(params)


class Stage:
    """One `[[stages]]` table: `Stage(name, command, **keys)`, any key of a stage (workers, retries,
    needs, over, done_when, slurm, ...). `scripter` and `detector` may be a class or an object."""

    def __init__(self, name: str, command: Sequence[str] | str | None = None, **keys: Any) -> None:
        self.keys: dict[str, Any] = {"name": name}
        if command is not None:
            self.keys["command"] = command
        self.keys.update(keys)
        self.where = _where()

    @property
    def name(self) -> str:
        return str(self.keys["name"])

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.keys.items() if k != "name")
        return f"Stage({self.name!r}{', ' + inner if inner else ''})"


class Pipeline:
    """A whole pipeline, checked when it is made (a mistake raises ConfigError at once).

    `base_dir` is where relative paths (state_dir, cwd, done_when, ...) start: by default the folder
    of the Python file that makes the Pipeline, as a coopy.toml's paths start at its own folder.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        stages: Sequence[Stage | Mapping[str, Any]] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        **keys: Any,
    ) -> None:
        self.where = _where()
        file = self.where.rpartition(":")[0] if self.where != "<python>" else ""  # relative to the cwd now
        raw, flat = _raw(name, keys)
        stage_where: list[str] = []
        plugins: dict[str, dict[str, object]] = {}
        if stages is not None:
            raw["stages"], stage_where, plugins = _stages(stages, self.where)
        if base_dir is not None:
            base = Path(base_dir).resolve()
        else:
            base = Path(file).resolve().parent if file else Path.cwd().resolve()
        path = Path(file).resolve() if file else base / "<python>"
        try:
            self._config = config_from_dict(raw, self.where, base, path=path, plugins=plugins)
        except ConfigError as exc:
            raise _python_error(exc, flat, stage_where) from None
        self._source = ""

    # ---------------------------------------------------------------- what it is
    @property
    def config(self) -> Config:
        """The validated Config, the same a coopy.toml saying the same thing gives."""
        if self._source and self._config.source != self._source:
            from dataclasses import replace

            self._config = replace(self._config, source=self._source)
        return self._config

    @property
    def name(self) -> str:
        return self._config.pipeline.name

    def dump(self) -> str:
        """The normalized config as TOML (what `coopy validate --dump` prints)."""
        return dump_config(self._config)

    def __repr__(self) -> str:
        stages = ", ".join(self._config.stage_names)
        return f"<Pipeline {self.name!r}: {len(self._config.tasks)} configurations, stages {stages}>"

    # ---------------------------------------------------------------- running it
    def run(self, *, progress: bool | None = None, stop_running: bool = False) -> Results:
        """Run until every configuration passed every stage or failed for good; returns the Results.

        Like `coopy run`: commands run detached (a killed script leaves them running; the next run
        adopts them), `coopy-tui` and `coopy status` can attach meanwhile. `progress`: a line per
        stage (live on a terminal); default only when stdout is a terminal. Ctrl-C stops the engine,
        leaves the commands running (`stop_running=True`: stops them and queues them again) and
        raises KeyboardInterrupt."""
        from coopy_core.runner import run

        return run(self.config, progress=progress, stop_running=stop_running)

    async def run_async(self, *, progress: bool = False, stop_running: bool = False) -> Results:
        """`run()` for callers with their own event loop."""
        from coopy_core.runner import run_async

        return await run_async(self.config, progress=progress, stop_running=stop_running)

    def status(self) -> Results:
        """Where every run is now: from the running engine when one serves this pipeline, else from
        the state store. Starts nothing."""
        from coopy_core.outcome import collect

        return collect(self.config)

    def plan(self) -> Plan:
        """What the next `run()` would run and why, judged as `coopy plan` judges it (the engine's own
        judgement, from the state store read-only). Starts nothing, writes nothing. `plan.runs` counts
        the runs that would run; `str(plan)` is `coopy plan`'s text, `plan.as_dict()` its `--json`."""
        from coopy_core.plan.dryrun import make_plan

        return make_plan(self.config, shown=self.name)

    def why(self, stage: str, task: str) -> str:
        """One line, `coopy why`'s: why this run would run at the next start, or why not. KeyError for
        a stage or run the pipeline does not have."""
        from coopy_core.plan.dryrun import why

        return why(self.config, stage, task)


# ==================================================================== building the plain data
def _raw(name: str | None, keys: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The top-level tables from the keywords; `flat` names the tables whose keys were given one by one
    (their errors name the key alone, as it was written: `poll_interval`, `matrix.seed`)."""
    raw: dict[str, Any] = {}
    flat: set[str] = set()
    given = dict(keys)
    if name is not None:
        given["name"] = name

    def put(table: str, key: str, value: Any) -> None:
        section = raw.setdefault(table, {})
        if not isinstance(section, dict) or key in section:
            raise ConfigError(_where(), f"{table}.{key}", f"given twice (as {key}= and inside {table}=)")
        section[key] = _plain(value)
        flat.add(table)

    for key, value in given.items():
        if key in TABLE_KEYS:
            if key in raw and isinstance(raw[key], dict) and isinstance(value, Mapping):
                for inner, item in value.items():
                    put(key, inner, item)
            else:
                raw[key] = _plain(value)
        elif key in PIPELINE_KEYS:
            put("pipeline", key, value)
        elif key in TASK_KEYS:
            put("tasks", key, value)
        else:
            raw[key] = _plain(value)  # an unknown key: the model says so
    return raw, flat


# the stage keys that may hold a plug-in given in Python, and the class it must be (or be an instance of)
PLUGIN_BASES: dict[str, type] = {"scripter": Scripter, "detector": Detector}


def check_plugin(attr: str, value: object) -> str:
    """What is wrong with a Python value given as a stage's `scripter` or `detector` ("" if nothing)."""
    base = PLUGIN_BASES[attr]
    if isinstance(value, type):
        if issubclass(value, base):
            return ""
        return f"should be a subclass of {base.__name__}, got the class {value.__qualname__}"
    if isinstance(value, base):
        return ""
    return f"should be a {base.__name__} subclass, an instance of one, or 'module:Class', got {type(value).__name__}"


def _stages(
    stages: Sequence[Stage | Mapping[str, Any]], where: str
) -> tuple[Any, list[str], dict[str, dict[str, object]]]:
    """The stages as plain tables, where each was made, and the plug-in objects taken out of them."""
    if isinstance(stages, str | bytes | Mapping) or not isinstance(stages, Sequence):
        return _plain(stages), [], {}
    tables: list[Any] = []
    wheres: list[str] = []
    plugins: dict[str, dict[str, object]] = {}
    owners: dict[int, int] = {}  # id of a plug-in object -> the stage it was given to first
    for i, stage in enumerate(stages):
        if isinstance(stage, Stage):
            keys, at = dict(stage.keys), stage.where
        elif isinstance(stage, Mapping):
            keys, at = dict(stage), where
        else:
            tables.append(_plain(stage))  # the model says what is wrong
            wheres.append(where)
            continue
        wheres.append(at)
        for attr in PLUGIN_BASES:
            value = keys.get(attr)
            if value is None or isinstance(value, str):
                continue
            problem = check_plugin(attr, value)
            if problem:
                raise ConfigError(at, f"stages[{i}].{attr}", problem)
            if not isinstance(value, type):
                if id(value) in owners:
                    raise ConfigError(
                        at,
                        f"stages[{i}].{attr}",
                        f"the same object is given to stages[{owners[id(value)]}]: give each stage its own "
                        "object, or the class",
                    )
                owners[id(value)] = i
            plugins.setdefault(str(keys.get("name")), {})[attr] = value
            keys[attr] = None
        tables.append({k: _plain(v) for k, v in keys.items() if not (k in PLUGIN_BASES and v is None)})
    return tables, wheres, plugins


def _plain(value: Any) -> Any:
    """What TOML would hold: tuples and ranges as lists, paths as strings, models as tables."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_defaults=True)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | range):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


# ==================================================================== errors, as the Python side wrote it
_TOML_HINTS = {
    "(add at least one [[stages]] table)": "(give stages=[Stage(...), ...])",
    "(add [tasks.matrix] or [tasks.named])": "(give matrix= or named=)",
}


def _python_error(exc: ConfigError, flat: set[str], stage_where: list[str]) -> ConfigError:
    """The same error, naming the key as the Python code wrote it, and the line of the Stage(...) it
    is about."""
    key, where = exc.key, exc.path
    found = re.match(r"stages\[(\d+)\]", key)
    if found and int(found[1]) < len(stage_where):
        where = stage_where[int(found[1])]
    for table in ("pipeline", "tasks"):
        if table in flat and key.startswith(table + "."):
            key = key[len(table) + 1 :]
    message = exc.message
    for toml, python in _TOML_HINTS.items():
        message = message.replace(toml, python)
    return ConfigError(where, key, message)


_HERE = os.path.dirname(os.path.abspath(__file__))


def _where() -> str:
    """`file:line` of the code that called into this module (what errors name)."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _HERE:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None or frame.f_code.co_filename.startswith("<"):
        return "<python>"
    return f"{_shown_path(frame.f_code.co_filename)}:{frame.f_lineno}"


def _shown_path(file: str) -> str:
    """Relative to the current folder when it is below it (as a person typed it), else absolute."""
    try:
        relative = os.path.relpath(file)
    except ValueError:
        return file
    return file if relative.startswith("..") else relative


# ==================================================================== loaded by name (loader.py)
def set_source(pipeline: Pipeline, source: str) -> Config:
    """Record how the background engine can load this pipeline again (`file.py:attribute`)."""
    pipeline._source = source
    return pipeline.config
