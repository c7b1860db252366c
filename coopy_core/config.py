"""coopy.toml: pydantic models, loading with one-line errors, and the starter file for `coopy init`.

Every problem becomes a ConfigError naming the file and the key path, so the
CLIs can print one line and exit 2 before anything is started or written.
"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from coopy_core import templates
from coopy_core.errors import ConfigError
from coopy_core.tasks import Task, TaskError, expand_tasks

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+=,@-]*$"
ParamValue = StrictStr | StrictInt | StrictFloat | StrictBool
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # "3" is not 3: say so


class PipelineConfig(_Strict):
    name: Name = "pipeline"
    poll_interval: float = Field(default=2.0, gt=0, le=3600)
    state_dir: str = ".coopy"
    log_dir: str | None = None
    detector_timeout: float = Field(default=60.0, gt=0)
    on_finished: list[StrictStr] | StrictStr | None = None  # hook: {pipeline}, {state} = passed | failed


class TasksConfig(_Strict):
    matrix: dict[str, list[ParamValue]] = Field(default_factory=dict)
    exclude: list[dict[str, ParamValue]] = Field(default_factory=list)
    named: dict[str, dict[str, ParamValue]] = Field(default_factory=dict)

    @field_validator("matrix")
    @classmethod
    def _non_empty_lists(cls, matrix: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in matrix.items():
            if not values:
                raise ValueError(f"matrix parameter {key!r} has no values")
        return matrix


# sbatch options CooPy sets itself (overriding them would lose the log, the job's identity
# after a crash or the argv), and --array (one run is one job; see executors/slurm.py).
RESERVED_SBATCH_OPTIONS = (
    "--parsable", "--job-name", "-J", "--output", "-o", "--error", "-e", "--chdir", "-D",
    "--export", "--comment", "--wrap", "--open-mode", "--array", "-a",
)
SLURM_TIME_PATTERN = r"^(\d+-\d+(:\d+){0,2}|\d+(:\d+){0,2}|UNLIMITED|INFINITE)$"
SLURM_MEM_PATTERN = r"^\d+[KMGTkmgt]?$"


def _sbatch_option(arg: str) -> str:
    """One `extra_args` item: an option (not a script path), and not one CooPy sets itself."""
    if not arg.startswith("-"):
        raise ValueError("should be an sbatch option, one item per option, like '--constraint=gpu'")
    flag = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
    if flag in ("--array", "-a"):
        raise ValueError(f"{flag} is not supported: each run is one Slurm job")
    if flag in RESERVED_SBATCH_OPTIONS:
        raise ValueError(f"{flag} is set by CooPy itself")
    return arg


SbatchOption = Annotated[StrictStr, AfterValidator(_sbatch_option)]


class SlurmOptions(_Strict):
    """A stage's `slurm = { ... }` table: sbatch options for its jobs (all optional)."""

    partition: StrictStr | None = Field(default=None, min_length=1)
    time: StrictStr | StrictInt | None = None  # "HH:MM:SS", "D-HH", minutes, ...
    cpus_per_task: StrictInt | None = Field(default=None, ge=1)
    mem: StrictStr | StrictInt | None = None  # "4G", or megabytes
    gres: StrictStr | None = Field(default=None, min_length=1)
    account: StrictStr | None = Field(default=None, min_length=1)
    qos: StrictStr | None = Field(default=None, min_length=1)
    extra_args: list[SbatchOption] = Field(default_factory=list)

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("should be at least 1 (minutes)")
        elif value is not None and not re.match(SLURM_TIME_PATTERN, value):
            raise ValueError("should be a Slurm time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS")
        return value

    @field_validator("mem")
    @classmethod
    def _slurm_mem(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("should be at least 1 (megabytes)")
        elif value is not None and not re.match(SLURM_MEM_PATTERN, value):
            raise ValueError("should be a Slurm memory size: megabytes, or a number with K, M, G or T")
        return value


class StageConfig(_Strict):
    name: Name
    command: list[StrictStr] | StrictStr | None = None
    cwd: str | None = None
    env: dict[str, StrictStr] = Field(default_factory=dict)
    workers: int = Field(default=1, ge=1, le=10_000)
    retries: int = Field(default=0, ge=0, le=100)
    backoff: float = Field(default=1.0, ge=0, le=86_400)
    timeout: float | None = Field(default=None, gt=0)
    done_when: list[StrictStr] = Field(default_factory=list)
    skip_if_done: bool = False
    priority: int = Field(default=0, ge=-1_000_000_000, le=1_000_000_000)  # stored as SQLite INTEGER
    shell: bool = False
    scripter: str | None = None
    detector: str | None = None
    executor: Literal["local", "slurm"] = "local"
    resources: dict[str, StrictInt | StrictFloat] = Field(default_factory=dict)  # per run, from [resources]
    on_done: list[StrictStr] | StrictStr | None = None  # hooks: the run's placeholders + {state} {exit_code}
    on_failed: list[StrictStr] | StrictStr | None = None  # {reason} {log}; run detached, output logged
    slurm: SlurmOptions | None = None

    @property
    def argv_templates(self) -> list[str]:
        """The command as a list of templates (a string is split like a shell would, without one)."""
        if self.command is None:
            return []
        if isinstance(self.command, str):
            return [self.command] if self.shell else shlex.split(self.command)
        if self.shell:
            return [" ".join(self.command)]
        return list(self.command)


class ConfigFile(_Strict):
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    resources: dict[str, list[StrictInt | StrictStr] | StrictInt | StrictFloat] = Field(default_factory=dict)
    stages: list[StageConfig]


@dataclass(frozen=True)
class Config:
    """A validated config with paths resolved against the config file's folder."""

    path: Path
    base_dir: Path
    pipeline: PipelineConfig
    stages: tuple[StageConfig, ...]
    tasks: tuple[Task, ...]
    state_dir: Path
    log_dir: Path
    pools: dict[str, list[str] | float] = field(default_factory=dict)  # [resources], GPUs detected if asked

    def stage(self, name: str) -> StageConfig:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage_cwd(self, stage: StageConfig) -> Path:
        return self.base_dir / stage.cwd if stage.cwd else self.base_dir


def load_config(path: str | Path) -> Config:
    """Read and validate `path`; raise ConfigError with file and key on any problem."""
    path = Path(path)
    shown = str(path)
    raw = _read_toml(path, shown)
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # `[[stage]]` for `[[stages]]` is both "unknown key" and "stages missing": name the typo
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise ConfigError(shown, _key_path(err["loc"], raw), _message(err)) from None
    base_dir = path.resolve().parent
    try:
        tasks = expand_tasks(parsed.tasks.matrix, parsed.tasks.exclude, parsed.tasks.named)
    except TaskError as exc:
        raise ConfigError(shown, f"tasks.{exc.key}", str(exc)) from None
    _check_stages(parsed, tasks, shown, base_dir)
    state_dir = (base_dir / parsed.pipeline.state_dir).resolve()
    log_dir = (
        (base_dir / parsed.pipeline.log_dir).resolve() if parsed.pipeline.log_dir else state_dir / "logs"
    )
    return Config(
        path=path.resolve(),
        base_dir=base_dir,
        pipeline=parsed.pipeline,
        stages=tuple(parsed.stages),
        tasks=tuple(tasks),
        state_dir=state_dir,
        log_dir=log_dir,
        pools=_check_resources(parsed, shown),
    )


def _read_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(shown, "", "is a directory, not a config file") from None
    except PermissionError:
        raise ConfigError(shown, "", "cannot read the file (permission denied)") from None
    except OSError as exc:
        raise ConfigError(shown, "", f"cannot read the file ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(shown, "", "not a UTF-8 text file (is it binary?)") from None
    if "\x00" in text:
        raise ConfigError(shown, "", "not a text file (contains NUL bytes)")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, "", f"TOML syntax error: {exc}") from None
    except RecursionError:
        raise ConfigError(shown, "", "TOML nested too deeply") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise ConfigError(shown, "", f"TOML syntax error: {str(exc).split(';')[0]}") from None
    _refuse_nul(raw, shown)
    return raw


def _refuse_nul(raw: dict[str, Any], shown: str) -> None:
    """A NUL written as an escape ("\\u0000") cannot be in a path, an argument or an env value."""
    stack: list[tuple[str, Any]] = [("", raw)]
    while stack:  # not recursive: tables may nest thousands deep
        where, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ConfigError(shown, where or "(top level)", "contains a NUL character")
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{where}.{key}" if where else key
                if "\x00" in key:
                    raise ConfigError(shown, inner, "a key contains a NUL character")
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))


def _check_stages(parsed: ConfigFile, tasks: list[Task], shown: str, base_dir: Path) -> None:
    if not parsed.stages:
        raise ConfigError(shown, "stages", "no stages defined (add at least one [[stages]] table)")
    if not tasks:
        raise ConfigError(shown, "tasks", "no configurations defined (add [tasks.matrix] or [tasks.named])")
    seen: set[str] = set()
    common = set.intersection(*(set(t.params) for t in tasks))  # reserved names: refused by expand_tasks
    known = common | set(templates.BUILTIN_PLACEHOLDERS)
    for t in _split(shown, "pipeline.on_finished", hook_argv, parsed.pipeline.on_finished):
        try:
            templates.check(t, FINISHED_PLACEHOLDERS)
        except templates.TemplateError as exc:
            raise ConfigError(shown, "pipeline.on_finished", str(exc)) from None
    for i, stage in enumerate(parsed.stages):
        key = f"stages[{i}]"
        if stage.name in seen:
            raise ConfigError(shown, f"{key}.name", f"duplicate stage name {stage.name!r}")
        seen.add(stage.name)
        if stage.command is None and stage.scripter is None:
            raise ConfigError(shown, f"{key}.command", "missing: give a command (or a scripter)")
        argv_templates = _split(shown, f"{key}.command", lambda s: s.argv_templates, stage)
        if stage.command is not None and not argv_templates:
            raise ConfigError(shown, f"{key}.command", "is empty")
        if stage.slurm is not None and stage.executor != "slurm":
            used = f"this stage's executor is {stage.executor!r}"
            raise ConfigError(shown, f"{key}.slurm", f'only used with executor = "slurm" ({used})')
        if stage.skip_if_done and not stage.done_when:
            raise ConfigError(shown, f"{key}.skip_if_done", "needs done_when (the outputs to look for)")
        fields: list[tuple[str, str]] = [(f"{key}.command", t) for t in argv_templates]
        fields += [(f"{key}.done_when", t) for t in stage.done_when]
        for hook in ("on_done", "on_failed"):
            for t in _split(shown, f"{key}.{hook}", hook_argv, getattr(stage, hook)):
                try:
                    templates.check(t, known | set(HOOK_PLACEHOLDERS))
                except templates.TemplateError as exc:
                    raise ConfigError(shown, f"{key}.{hook}", str(exc)) from None
        fields += [(f"{key}.env.{k}", v) for k, v in stage.env.items()]
        if stage.cwd:
            fields.append((f"{key}.cwd", stage.cwd))
        for field_key, template in fields:
            try:
                templates.check(template, known)
            except templates.TemplateError as exc:
                raise ConfigError(shown, field_key, str(exc)) from None
        for attr in ("scripter", "detector"):
            ref = getattr(stage, attr)
            if ref is not None:
                try:
                    import_ref(ref, base_dir)
                except ValueError as exc:
                    raise ConfigError(shown, f"{key}.{attr}", str(exc)) from None


def _split(shown: str, key: str, split: Any, value: Any) -> list[str]:
    """A string command split like a shell would: an unclosed quote is the user's to fix."""
    try:
        return list(split(value))
    except ValueError as exc:
        raise ConfigError(shown, key, f"cannot split the command: {exc}") from None


HOOK_PLACEHOLDERS = ("state", "exit_code", "reason", "log")
FINISHED_PLACEHOLDERS = ("pipeline", "state")


def hook_argv(hook: list[str] | str | None) -> list[str]:
    """A hook is a command like a stage's: an argv list, or a string split like a shell would, without one."""
    if hook is None:
        return []
    return shlex.split(hook) if isinstance(hook, str) else list(hook)


def _check_resources(parsed: ConfigFile, shown: str) -> dict[str, list[str] | float]:
    from coopy_core.resources import detect_gpus

    pools: dict[str, list[str] | float] = {}
    for name, spec in parsed.resources.items():
        key = f"resources.{name}"
        if not name.isidentifier():
            raise ConfigError(shown, key, "a pool name must be a plain name (letters, digits, _)")
        if isinstance(spec, list):
            ids = [str(i) for i in spec]
            if len(set(ids)) != len(ids):
                raise ConfigError(shown, key, "ids must be distinct")
            pools[name] = ids
        elif not _sane_amount(spec):
            raise ConfigError(shown, key, f"should be a finite number up to {MAX_AMOUNT:g}, got {_show(spec)}")
        elif spec < 0:
            raise ConfigError(shown, key, f"should be >= 0, got {spec!r}")
        else:
            pools[name] = float(spec)
    for i, stage in enumerate(parsed.stages):
        for name, amount in stage.resources.items():
            key = f"stages[{i}].resources.{name}"
            if name not in pools and name == "gpus":
                found = detect_gpus()
                if found:
                    pools["gpus"] = found
            if name not in pools:
                hint = " (no GPU found: set [resources] gpus = [0, 1, ...])" if name == "gpus" else ""
                raise ConfigError(shown, key, f"no pool {name!r} in [resources]{hint}")
            pool = pools[name]
            if not _sane_amount(amount):
                raise ConfigError(shown, key, f"should be a finite number up to {MAX_AMOUNT:g}, got {_show(amount)}")
            if amount <= 0:
                raise ConfigError(shown, key, f"should be > 0, got {amount!r}")
            if isinstance(pool, list) and not isinstance(amount, int):
                raise ConfigError(shown, key, f"pool {name!r} holds ids: ask for a whole number, got {amount!r}")
            capacity = len(pool) if isinstance(pool, list) else pool
            if amount > capacity:
                raise ConfigError(shown, key, f"asks for {amount:g} but the pool {name!r} has only {capacity:g}")
    return pools


MAX_AMOUNT = 1e15


def _sane_amount(value: float) -> bool:
    """Not NaN or infinite, and small enough to count with floats (10**400 is not)."""
    return isinstance(value, int | float) and -MAX_AMOUNT <= value <= MAX_AMOUNT


def import_ref(ref: str, base_dir: Path | None = None) -> type:
    """Import `module:Class`; the config's folder is importable so local plug-ins just work."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{ref!r} should look like 'module:Class'")
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to fix
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    obj = getattr(module, attr, None)
    if not isinstance(obj, type):
        raise ValueError(f"{module_name!r} has no class {attr!r}")
    return obj


def _key_path(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("list[str]", "str", "str-enum", "int", "float", "bool", "function-after"):
            continue  # pydantic's union-member labels, not keys
        elif str(item).startswith(("list[", "constrained-", "lax-or-strict", "function-")):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    path = "".join(parts)
    return path or "(top level)"


_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "int_from_float": "a whole number",
}


def _message(err: Any) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing (required)"
    if kind in _TYPE_WORDS:
        return f"should be {_TYPE_WORDS[kind]}, got {_show(got)}"
    if kind == "string_pattern_mismatch":
        return (
            f"{_show(got)} is not a valid name (letters, digits and . _ + = , @ -; "
            "no spaces or slashes; must start with a letter or digit)"
        )
    if kind == "literal_error":
        return f"{_show(got)} is not allowed: {err['msg'].removeprefix('Input should be ')}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    msg = msg.replace("Input should be", "should be")
    return f"{msg}, got {_show(got)}" if got is not None and not isinstance(got, dict) else msg


def _show(value: Any) -> str:
    if isinstance(value, dict):  # before repr(): a table may nest thousands deep
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


STARTER_CONFIG: dict[str, Any] = {
    "pipeline": {"name": "my-pipeline", "poll_interval": 2},
    "tasks": {
        "matrix": {"model": ["small", "large"], "seed": [1, 2, 3]},
    },
    "stages": [
        {
            "name": "prepare",
            "command": ["sh", "-c", "mkdir -p out/$0 && echo prepared > out/$0/data.txt", "{task}"],
            "workers": 2,
        },
        {
            "name": "train",
            "command": ["sh", "-c", "sleep 1 && echo trained $1 > out/$0/model.txt", "{task}", "{seed}"],
            "workers": 2,
            "retries": 1,
            "backoff": 2,
            "done_when": ["out/{task}/model.txt"],
            "skip_if_done": True,
        },
        {
            "name": "evaluate",
            "command": "sh -c 'cat out/$0/model.txt > out/$0/score.txt' {task}",
            "workers": 3,
        },
    ],
}


def starter_toml() -> str:
    header = (
        "# CooPy pipeline: every stage has its own queue and worker cap.\n"
        "# Placeholders: {task}, {stage}, {attempt} and every parameter name.\n"
        "# Check it with `coopy validate coopy.toml`, run it with `coopy run coopy.toml`.\n\n"
    )
    return header + tomli_w.dumps(STARTER_CONFIG)
