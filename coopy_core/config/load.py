"""Loading: a TOML file or plain data in, a Config out, or one ConfigError naming the file and the key path,
so the CLIs can print one line and exit 2 before anything is started or written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli
from pydantic import ValidationError

from coopy_core.config.capacity import engine_too_big, run_count, unreadable
from coopy_core.config.checks import check_graph, check_stages
from coopy_core.config.messages import describe, key_path
from coopy_core.config.models import ConfigFile, TuiConfig
from coopy_core.config.notify import check_notify
from coopy_core.config.pools import check_pools
from coopy_core.config.validated import Config
from coopy_core.errors import ConfigError
from coopy_core.graph import GraphError
from coopy_core.tasks import TaskError, expand_tasks, matrix_size


def load_config(path: str | Path) -> Config:
    """Read and validate `path`; raise ConfigError with file and key on any problem."""
    path = Path(path)
    shown = str(path)
    raw = read_toml(path, shown)
    return config_from_dict(raw, shown, path.resolve().parent, path=path.resolve(), source=str(path.resolve()))


def parse_file(raw: dict[str, Any], shown: str) -> ConfigFile:
    """The file's keys and types checked (pydantic), or ConfigError naming the first problem."""
    refuse_nul(raw, shown)
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # `[[stage]]` for `[[stages]]` is both "unknown key" and "stages missing": name the typo
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where, problem = key_path(err["loc"], raw), describe(err)
        if where.startswith("tasks.matrix.") and problem.endswith("got a table"):
            problem += " (configurations to leave out go in `exclude = [{ ... }]`, under [tasks] or [tasks.matrix])"
        raise ConfigError(shown, where, problem) from None


def _dirs(parsed: ConfigFile, base_dir: Path) -> tuple[Path, Path]:
    """The state dir and the log dir, resolved against the config's folder."""
    state_dir = (base_dir / parsed.pipeline.state_dir).resolve()
    log_dir = (base_dir / parsed.pipeline.log_dir).resolve() if parsed.pipeline.log_dir else state_dir / "logs"
    return state_dir, log_dir


def load_config_unexpanded(path: str | Path) -> Config:
    """The file's pipeline and stages checked, its configurations NOT expanded (`tasks` is empty): enough to
    find and ask the engine that runs it (`coopy status` of a million configurations asks in 0.3 s instead of
    expanding them for 4 s). ConfigError as `load_config` for what it does check."""
    path = Path(path)
    shown = str(path)
    raw = read_toml(path, shown)
    parsed = parse_file(raw, shown)
    base_dir = path.resolve().parent
    state_dir, log_dir = _dirs(parsed, base_dir)
    try:
        return Config(
            path=path.resolve(),
            base_dir=base_dir,
            pipeline=parsed.pipeline,
            stages=tuple(parsed.stages),
            tasks=(),
            state_dir=state_dir,
            log_dir=log_dir,
            source=str(path.resolve()),
            model=parsed,
            tui=parsed.tui,
        )
    except GraphError as exc:  # needs naming an unknown stage, a cycle
        raise ConfigError(shown, f"stages[{exc.stage}].{exc.key}", str(exc)) from None


def config_from_dict(
    raw: dict[str, Any],
    shown: str,
    base_dir: Path,
    *,
    path: Path | None = None,
    source: str = "",
    plugins: Mapping[str, Mapping[str, object]] | None = None,
) -> Config:
    """Validate a config given as plain data (what tomli reads, or what `Pipeline` builds): the one
    path every config goes through, so TOML and Python get the same checks and the same one-line
    errors. `shown` names the config in errors; relative paths are relative to `base_dir`; `plugins`
    holds Scripter/Detector objects given in Python (stage name -> {"scripter": ..., "detector": ...})."""
    python_objects: dict[str, dict[str, object]] = {name: dict(given) for name, given in (plugins or {}).items()}
    parsed = parse_file(raw, shown)
    size = matrix_size(parsed.tasks.matrix)
    crowd = unreadable(size + len(parsed.tasks.named))  # before a million are expanded
    if crowd is not None:
        where = "tasks.matrix" if size else "tasks.named"
        raise ConfigError(shown, where, f"the matrix expands to {crowd}" if size else crowd)
    try:
        tasks = expand_tasks(parsed.tasks.matrix, parsed.tasks.exclude, parsed.tasks.named)
    except TaskError as exc:
        raise ConfigError(shown, f"tasks.{exc.key}", str(exc)) from None
    needs, graph = check_graph(parsed, tasks, shown)
    check_stages(parsed, tasks, shown, base_dir, python_objects)
    state_dir, log_dir = _dirs(parsed, base_dir)
    path = path or base_dir
    pools, gpus = check_pools(parsed, shown)
    check_notify(parsed.pipeline.notify, shown)  # last: it imports apprise when the key is used
    for i, stage in enumerate(parsed.stages):
        check_notify(stage.notify, shown, f"stages[{i}].notify")
    config = Config(
        path=path,
        base_dir=base_dir,
        pipeline=parsed.pipeline,
        stages=tuple(parsed.stages),
        tasks=tuple(tasks),
        state_dir=state_dir,
        log_dir=log_dir,
        pools=pools,
        gpu_others=gpus.others,
        gpu_note=gpus.note,
        needs=tuple(needs),
        source=source,
        model=parsed,
        plugins=python_objects,
        tui=parsed.tui,
    )
    object.__setattr__(config, "spare_graph", graph)
    return config


def check_engine_memory(config: Config, runs: int | None = None) -> None:
    """ConfigError when an engine of `config` would not fit in the memory available now (`capacity.py`);
    `runs`: how many its graph makes, when it is built already."""
    if runs is None:
        runs = run_count([s.over for s in config.stages], config.tasks)
    why = engine_too_big(len(config.tasks), runs)
    if why is not None:
        where = "tasks.matrix" if config.model is not None and config.model.tasks.matrix else "tasks"
        raise ConfigError(str(config.path), where, why)


def load_tui_file(path: str | Path) -> TuiConfig:
    """A user's own TUI settings file (the keys of `[tui]` at its top level); ConfigError like a config."""
    shown = str(path)
    raw = read_toml(Path(path), shown)
    try:
        return TuiConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(shown, key_path(err["loc"], raw), describe(err)) from None


def read_toml(path: Path, shown: str) -> dict[str, Any]:
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
        raw = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise ConfigError(shown, "", f"TOML syntax error: {exc}") from None
    except RecursionError:
        raise ConfigError(shown, "", "TOML nested too deeply") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise ConfigError(shown, "", f"TOML syntax error: {str(exc).split(';')[0]}") from None
    return raw


def refuse_nul(raw: dict[str, Any], shown: str) -> None:
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
