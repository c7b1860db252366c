"""coopy.toml: pydantic models, loading with one-line errors, and the starter file for `coopy init`.

Every problem becomes a ConfigError naming the file and the key path, so the
CLIs can print one line and exit 2 before anything is started or written.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Mapping
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
from coopy_core.graph import Graph, GraphError, StageNode, resolve_needs
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
    "--parsable",
    "--job-name",
    "-J",
    "--output",
    "-o",
    "--error",
    "-e",
    "--chdir",
    "-D",
    "--export",
    "--comment",
    "--wrap",
    "--open-mode",
    "--array",
    "-a",
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


RayAmount = Annotated[StrictInt | StrictFloat, Field(ge=0, le=1_000_000)]


class RayRuntimeEnv(_Strict):
    """The part of Ray's runtime_env CooPy passes on: nothing that downloads (no pip, conda, URIs)."""

    env_vars: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    working_dir: StrictStr | None = Field(default=None, min_length=1)  # a local folder, relative to the config

    @field_validator("working_dir")
    @classmethod
    def _local_path(cls, value: str | None) -> str | None:
        if value is not None and "://" in value:
            raise ValueError("should be a local folder (a URI would be downloaded by every node)")
        return value


class RayOptions(_Strict):
    """A stage's `ray = { ... }` table: where and with what its Ray jobs run (all optional)."""

    address: StrictStr | None = Field(default=None, min_length=1)  # default: $RAY_ADDRESS
    num_cpus: RayAmount | None = None  # the job's entrypoint resources: Ray places the job by them
    num_gpus: RayAmount | None = None
    resources: dict[StrictStr, RayAmount] = Field(default_factory=dict)  # custom resources, e.g. {special = 1}
    runtime_env: RayRuntimeEnv | None = None
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)  # shown by Ray next to CooPy's own keys
    wait_for_nodes: bool = False  # true on a cluster that adds nodes on demand: see executors/ray.py


class StageConfig(_Strict):
    name: Name
    command: list[StrictStr] | StrictStr | None = None
    needs: list[Name] | None = None  # the stages it waits for; None: the stage before it in the file
    over: list[StrictStr] | None = None  # the params that identify its runs; None: every param
    inputs: list[StrictStr] = Field(default_factory=list)  # rendered once per member; `{inputs}` in the command
    allow_failed: bool = False  # run over the members that passed when some needed runs failed for good
    code: list[StrictStr] = Field(default_factory=list)  # files (globs) whose content is part of what made a result
    cwd: str | None = None
    env: dict[str, StrictStr] = Field(default_factory=dict)
    workers: int = Field(default=1, ge=1, le=10_000)
    retries: int = Field(default=0, ge=0, le=100)
    backoff: float = Field(default=1.0, ge=0, le=86_400)
    timeout: float | None = Field(default=None, gt=0)
    done_when: list[StrictStr] = Field(default_factory=list)
    metrics: StrictStr | None = Field(default=None, min_length=1)  # a JSON object read when a run ends
    skip_if_done: bool = False
    priority: int = Field(default=0, ge=-1_000_000_000, le=1_000_000_000)  # stored as SQLite INTEGER
    shell: bool = False
    scripter: str | None = None
    detector: str | None = None
    executor: Literal["local", "slurm", "ray"] = "local"
    resources: dict[str, StrictInt | StrictFloat] = Field(default_factory=dict)  # per run, from [resources]
    on_done: list[StrictStr] | StrictStr | None = None  # hooks: the run's placeholders + {state} {exit_code}
    on_failed: list[StrictStr] | StrictStr | None = None  # {reason} {log}; run detached, output logged
    slurm: SlurmOptions | None = None
    ray: RayOptions | None = None

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


class TuiConfig(_Strict):
    """`[tui]`: how coopy-tui looks and which keys it answers to; the engine ignores it. A user's own
    `$XDG_CONFIG_HOME/coopy/tui.toml` (same keys, top level) overrides it key by key."""

    keys: dict[str, StrictStr] = Field(default_factory=dict)  # action -> keys: `more_workers = "w,plus"`
    theme: StrictStr | None = None  # a Textual theme: "textual-dark", "catppuccin-latte", ...
    notify: Literal["none", "bell", "osc9", "osc777"] = "none"  # when the pipeline finishes


class ConfigFile(_Strict):
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    resources: dict[str, list[StrictInt | StrictStr] | StrictInt | StrictFloat] = Field(default_factory=dict)
    stages: list[StageConfig]
    tui: TuiConfig = Field(default_factory=TuiConfig)


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
    needs: tuple[tuple[str, ...], ...] = ()  # per stage, the default filled in (`needs` in the file or the one before)
    source: str = ""  # how to load it again (the background engine does): a TOML path, `file.py:attribute`,
    # `module:attribute`; "" for a pipeline built in Python and not loaded by one of those names
    model: ConfigFile | None = None  # the validated file, for `coopy validate --dump`
    plugins: dict[str, dict[str, object]] = field(default_factory=dict)  # Python objects: stage -> {attr: obj}
    tui: TuiConfig = field(default_factory=TuiConfig)  # [tui]: for coopy-tui only

    def __post_init__(self) -> None:
        if not self.needs:
            resolved = resolve_needs([s.name for s in self.stages], [s.needs for s in self.stages])
            object.__setattr__(self, "needs", tuple(resolved))
        object.__setattr__(self, "_by_name", {s.name: s for s in self.stages})

    def stage(self, name: str) -> StageConfig:
        try:
            return self._by_name[name]  # type: ignore[attr-defined]
        except KeyError:
            raise KeyError(name) from None

    def stage_nodes(self) -> list[StageNode]:
        """The stages as the graph sees them."""
        return [
            StageNode(
                name=s.name,
                needs=needs,
                over=tuple(s.over) if s.over is not None else None,
                allow_failed=s.allow_failed,
                per_member=bool(s.inputs),
            )
            for s, needs in zip(self.stages, self.needs, strict=True)
        ]

    def graph(self) -> Graph:
        return Graph(self.stage_nodes(), self.tasks)

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
    return config_from_dict(raw, shown, path.resolve().parent, path=path.resolve(), source=str(path.resolve()))


def config_from_dict(
    raw: dict[str, Any],
    shown: str,
    base_dir: Path,
    *,
    path: Path | None = None,
    source: str = "",
    plugins: Mapping[str, Mapping[str, object]] | None = None,
) -> Config:
    """Validate a config given as plain data (what tomllib reads, or what `Pipeline` builds): the one
    path every config goes through, so TOML and Python get the same checks and the same one-line
    errors. `shown` names the config in errors; relative paths are relative to `base_dir`; `plugins`
    holds Scripter/Detector objects given in Python (stage name -> {"scripter": ..., "detector": ...})."""
    python_objects: dict[str, dict[str, object]] = {name: dict(given) for name, given in (plugins or {}).items()}
    _refuse_nul(raw, shown)
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # `[[stage]]` for `[[stages]]` is both "unknown key" and "stages missing": name the typo
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise ConfigError(shown, _key_path(err["loc"], raw), _message(err)) from None
    try:
        tasks = expand_tasks(parsed.tasks.matrix, parsed.tasks.exclude, parsed.tasks.named)
    except TaskError as exc:
        raise ConfigError(shown, f"tasks.{exc.key}", str(exc)) from None
    needs = _check_graph(parsed, tasks, shown)
    _check_stages(parsed, tasks, shown, base_dir, python_objects)
    state_dir = (base_dir / parsed.pipeline.state_dir).resolve()
    log_dir = (base_dir / parsed.pipeline.log_dir).resolve() if parsed.pipeline.log_dir else state_dir / "logs"
    path = path or base_dir
    return Config(
        path=path,
        base_dir=base_dir,
        pipeline=parsed.pipeline,
        stages=tuple(parsed.stages),
        tasks=tuple(tasks),
        state_dir=state_dir,
        log_dir=log_dir,
        pools=_check_resources(parsed, shown),
        needs=tuple(needs),
        source=source,
        model=parsed,
        plugins=python_objects,
        tui=parsed.tui,
    )


def dump_config(config: Config) -> str:
    """The normalized config as TOML: every key with its value or default (unset optional keys left
    out), the same for a coopy.toml and the Pipeline built in Python that says the same thing. A
    Scripter or Detector given as a Python object is written as the `module:Class` of its class."""
    if config.model is None:
        raise ValueError("this Config was not made by load_config or Pipeline: nothing to dump")
    data = config.model.model_dump(mode="json", exclude_none=True)
    for stage in data["stages"]:
        for attr, obj in config.plugins.get(stage["name"], {}).items():
            cls = obj if isinstance(obj, type) else type(obj)
            stage[attr] = f"{cls.__module__}:{cls.__qualname__}"
    return tomli_w.dumps(data)


def load_tui_file(path: str | Path) -> TuiConfig:
    """A user's own TUI settings file (the keys of `[tui]` at its top level); ConfigError like a config."""
    shown = str(path)
    raw = _read_toml(Path(path), shown)
    try:
        return TuiConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(shown, _key_path(err["loc"], raw), _message(err)) from None


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
                if isinstance(key, str) and "\x00" in key:
                    raise ConfigError(shown, inner, "a key contains a NUL character")
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))


def _check_graph(parsed: ConfigFile, tasks: list[Task], shown: str) -> list[tuple[str, ...]]:
    """needs (a DAG of known stages) and over (params every configuration has); groups with distinct names."""
    if not parsed.stages:
        raise ConfigError(shown, "stages", "no stages defined (add at least one [[stages]] table)")
    if not tasks:
        raise ConfigError(shown, "tasks", "no configurations defined (add [tasks.matrix] or [tasks.named])")
    names = [s.name for s in parsed.stages]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(shown, f"stages[{i}].name", f"duplicate stage name {name!r}")
    try:
        needs = resolve_needs(names, [s.needs for s in parsed.stages])
    except GraphError as exc:
        raise ConfigError(shown, f"stages[{exc.stage}].{exc.key}", str(exc)) from None
    common = set.intersection(*(set(t.params) for t in tasks))
    for i, stage in enumerate(parsed.stages):
        if stage.over is None:
            continue
        for j, param in enumerate(stage.over):
            if param in stage.over[:j]:
                raise ConfigError(shown, f"stages[{i}].over", f"{param!r} is listed twice")
            if param not in common:
                lacking = next((t.name for t in tasks if param not in t.params), "?")
                what = "a parameter of every configuration" if any(param in t.params for t in tasks) else "a parameter"
                raise ConfigError(shown, f"stages[{i}].over", f"{param!r} is not {what} (missing in {lacking!r})")
    nodes = [
        StageNode(s.name, n, tuple(s.over) if s.over is not None else None, s.allow_failed, bool(s.inputs))
        for s, n in zip(parsed.stages, needs, strict=True)
    ]
    graph = Graph(nodes)
    for task in tasks:
        try:
            graph.add_task(task)
        except ValueError as exc:
            bad = next(i for i, s in enumerate(parsed.stages) if repr(s.name) in str(exc))
            raise ConfigError(shown, f"stages[{bad}].over", str(exc)) from None
    return needs


def stage_placeholders(stage: StageConfig, common: set[str]) -> set[str]:
    """What a stage's command, outputs, env and cwd may name: the params its runs are over, and the
    built-in placeholders (`{inputs}` only in the command, and only with inputs)."""
    params = common if stage.over is None else set(stage.over)
    return params | set(templates.BUILTIN_PLACEHOLDERS)


def _check_stages(
    parsed: ConfigFile, tasks: list[Task], shown: str, base_dir: Path, plugins: Mapping[str, Mapping[str, object]]
) -> None:
    seen: set[str] = set()
    common = set.intersection(*(set(t.params) for t in tasks))  # reserved names: refused by expand_tasks
    for t in _split(shown, "pipeline.on_finished", hook_argv, parsed.pipeline.on_finished):
        try:
            templates.check(t, FINISHED_PLACEHOLDERS)
        except templates.TemplateError as exc:
            raise ConfigError(shown, "pipeline.on_finished", str(exc)) from None
    for i, stage in enumerate(parsed.stages):
        key = f"stages[{i}]"
        known = stage_placeholders(stage, common)
        if stage.name in seen:
            raise ConfigError(shown, f"{key}.name", f"duplicate stage name {stage.name!r}")
        seen.add(stage.name)
        if stage.command is None and stage.scripter is None and "scripter" not in plugins.get(stage.name, {}):
            raise ConfigError(shown, f"{key}.command", "missing: give a command (or a scripter)")
        argv_templates = _split(shown, f"{key}.command", lambda s: s.argv_templates, stage)
        if stage.command is not None and not argv_templates:
            raise ConfigError(shown, f"{key}.command", "is empty")
        if stage.slurm is not None and stage.executor != "slurm":
            used = f"this stage's executor is {stage.executor!r}"
            raise ConfigError(shown, f"{key}.slurm", f'only used with executor = "slurm" ({used})')
        if stage.ray is not None and stage.executor != "ray":
            used = f"this stage's executor is {stage.executor!r}"
            raise ConfigError(shown, f"{key}.ray", f'only used with executor = "ray" ({used})')
        if stage.executor == "ray":
            _check_ray(shown, key, stage, base_dir)
        if stage.skip_if_done and not stage.done_when:
            raise ConfigError(shown, f"{key}.skip_if_done", "needs done_when (the outputs to look for)")
        _check_inputs_placeholder(shown, key, stage, argv_templates, known)

        def check(field_key: str, template: str, allowed: set[str], stage: StageConfig = stage) -> None:
            try:
                templates.check(template, allowed)
            except templates.TemplateError as exc:
                raise ConfigError(shown, field_key, _not_over(str(exc), template, stage, common)) from None

        command_known = known | {"inputs"} if stage.inputs else known
        for t in argv_templates:
            check(f"{key}.command", t, command_known)
        member_known = common | set(templates.BUILTIN_PLACEHOLDERS)
        for j, t in enumerate(stage.inputs):
            check(f"{key}.inputs[{j}]", t, member_known)
        for hook in ("on_done", "on_failed"):
            for t in _split(shown, f"{key}.{hook}", hook_argv, getattr(stage, hook)):
                check(f"{key}.{hook}", t, known | set(HOOK_PLACEHOLDERS))
        for t in stage.done_when:
            check(f"{key}.done_when", t, known)
        if stage.metrics is not None:
            check(f"{key}.metrics", stage.metrics, known)
        for k, v in stage.env.items():
            check(f"{key}.env.{k}", v, known)
        if stage.cwd:
            check(f"{key}.cwd", stage.cwd, known)
        for attr in ("scripter", "detector"):
            ref = getattr(stage, attr)
            if ref is not None:
                try:
                    import_ref(ref, base_dir)
                except ValueError as exc:
                    raise ConfigError(shown, f"{key}.{attr}", str(exc)) from None


def _check_ray(shown: str, key: str, stage: StageConfig, base_dir: Path) -> None:
    """ray installed (found without importing it: `import coopy_core` stays light); a working_dir that exists."""
    import importlib.util

    try:
        installed = importlib.util.find_spec("ray") is not None and importlib.util.find_spec("aiohttp") is not None
    except (ImportError, ValueError):
        installed = False
    if not installed:
        raise ConfigError(
            shown, f"{key}.executor", "\"ray\" needs Ray's job client installed: pip install 'coopy[ray]'"
        )
    options = stage.ray
    if not (options is not None and options.address) and not os.environ.get("RAY_ADDRESS", "").strip():
        raise ConfigError(
            shown,
            f"{key}.ray.address",
            "no Ray cluster: set it here or export RAY_ADDRESS (to try one on this machine: `ray start --head`, "
            "then `export RAY_ADDRESS=http://127.0.0.1:8265`)",
        )
    if options is None:
        return
    for name in options.resources:
        if name in ("CPU", "GPU"):
            raise ConfigError(shown, f"{key}.ray.resources.{name}", f"use num_{name.lower()}s for {name}")
    env = options.runtime_env
    if env is not None and env.working_dir is not None:
        try:
            found = (base_dir / env.working_dir).is_dir()
        except OSError as exc:  # a name too long, ...
            raise ConfigError(shown, f"{key}.ray.runtime_env.working_dir", exc.strerror or str(exc)) from None
        if not found:
            raise ConfigError(shown, f"{key}.ray.runtime_env.working_dir", f"no such folder: {env.working_dir}")


def _split(shown: str, key: str, split: Any, value: Any) -> list[str]:
    """A string command split like a shell would: an unclosed quote is the user's to fix."""
    try:
        return list(split(value))
    except ValueError as exc:
        raise ConfigError(shown, key, f"cannot split the command: {exc}") from None


INPUTS_ITEM = "{inputs}"


def _not_over(message: str, template: str, stage: StageConfig, common: set[str]) -> str:
    """An unknown placeholder that is a parameter the stage's runs are not over: say that instead."""
    if stage.over is None:
        return message
    try:
        names = templates.placeholders(template)
    except templates.TemplateError:
        return message
    for name in names:
        if name in common and name not in stage.over:
            over = ", ".join(stage.over) or "nothing: one run for the whole pipeline"
            return f"{{{name}}} is a parameter this stage's runs are not over (over: {over})"
    return message


def _check_inputs_placeholder(shown: str, key: str, stage: StageConfig, argv: list[str], known: set[str]) -> None:
    """`{inputs}` is a whole argument (one per path), or, with `shell = true`, anywhere (quoted paths)."""
    if stage.inputs and "inputs" in known:
        raise ConfigError(shown, f"{key}.inputs", "a parameter named 'inputs' would hide the stage's inputs; rename it")
    if "inputs" in known:
        return  # a parameter of that name (a config from before `inputs` existed)
    for t in argv:
        try:
            names = templates.placeholders(t)
        except templates.TemplateError:
            continue  # said by the general check
        if "inputs" not in names:
            continue
        if not stage.inputs:
            raise ConfigError(
                shown, f"{key}.command", "{inputs} names the stage's inputs, but it has none (add inputs = [...])"
            )
        if not stage.shell and t != INPUTS_ITEM:
            raise ConfigError(
                shown, f"{key}.command", f"{{inputs}} must be an argument of its own (one per path), not part of {t!r}"
            )


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
