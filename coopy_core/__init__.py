"""CooPy's engine: per-stage queues for chains of operations over many configurations.

Importable without any user interface: nothing here imports textual. The names below are loaded when first
used (`from coopy_core import Engine` works as usual): importing the package itself is instant, so the command
line can take over Ctrl-C before anything heavy loads (see `launch`).

    from coopy_core import Pipeline, Stage, Matrix   # a pipeline in Python (or load_config("coopy.toml"))
    results = Pipeline(...).run()                   # run it here; Results per run: state, attempts, ...
    Engine(config)                                  # the async API, for callers with their own loop
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: this loads before Ctrl-C is the command's (cli/launch.py), so it loads nothing

if TYPE_CHECKING:
    from typing import Any

    from coopy_core.commands import CommandError, Commands
    from coopy_core.config import Config, ConfigError, StageConfig, config_from_dict, dump_config, load_config
    from coopy_core.detector import DetectContext, Detector, Status, Verdict
    from coopy_core.engine import Engine
    from coopy_core.errors import CoopyError, StateError
    from coopy_core.loader import load_target
    from coopy_core.model import Event, EventKind, RunState, RunView, Snapshot, StageView
    from coopy_core.outcome import AttemptResult, Results, RunResult, StageResult
    from coopy_core.pipeline import Matrix, Pipeline, Stage
    from coopy_core.scripter import Launch, Scripter
    from coopy_core.tasks import Task

_WHERE = {
    "AttemptResult": "outcome",
    "CommandError": "commands",
    "Commands": "commands",
    "Config": "config",
    "ConfigError": "config",
    "CoopyError": "errors",
    "DetectContext": "detector",
    "Detector": "detector",
    "Engine": "engine",
    "Event": "model",
    "EventKind": "model",
    "Launch": "scripter",
    "Matrix": "pipeline",
    "Pipeline": "pipeline",
    "Results": "outcome",
    "RunResult": "outcome",
    "RunState": "model",
    "RunView": "model",
    "Scripter": "scripter",
    "Snapshot": "model",
    "Stage": "pipeline",
    "StageConfig": "config",
    "StageResult": "outcome",
    "StageView": "model",
    "StateError": "errors",
    "Status": "detector",
    "Task": "tasks",
    "Verdict": "detector",
    "config_from_dict": "config",
    "dump_config": "config",
    "load_config": "config",
    "load_target": "loader",
}

__all__ = [
    "AttemptResult",
    "CommandError",
    "Commands",
    "Config",
    "ConfigError",
    "CoopyError",
    "DetectContext",
    "Detector",
    "Engine",
    "Event",
    "EventKind",
    "Launch",
    "Matrix",
    "Pipeline",
    "Results",
    "RunResult",
    "RunState",
    "RunView",
    "Scripter",
    "Snapshot",
    "Stage",
    "StageConfig",
    "StageResult",
    "StageView",
    "StateError",
    "Status",
    "Task",
    "Verdict",
    "config_from_dict",
    "dump_config",
    "load_config",
    "load_target",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'coopy_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"coopy_core.{module}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
