"""CooPy's engine: per-stage queues for chains of operations over many configurations.

Importable without any user interface: nothing here imports textual. The names below are loaded when first
used (`from coopy_core import Engine` works as usual): importing the package itself is instant, so the command
line can take over Ctrl-C before anything heavy loads (see `launch`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coopy_core.commands import CommandError, Commands
    from coopy_core.config import Config, ConfigError, StageConfig, load_config
    from coopy_core.detector import DetectContext, Detector, Status, Verdict
    from coopy_core.engine import Engine
    from coopy_core.errors import CoopyError, StateError
    from coopy_core.model import Event, EventKind, RunState, RunView, Snapshot, StageView
    from coopy_core.scripter import Launch, Scripter
    from coopy_core.tasks import Task

_WHERE = {
    "CommandError": "commands",
    "Commands": "commands",
    "Config": "config",
    "ConfigError": "config",
    "StageConfig": "config",
    "load_config": "config",
    "DetectContext": "detector",
    "Detector": "detector",
    "Status": "detector",
    "Verdict": "detector",
    "Engine": "engine",
    "CoopyError": "errors",
    "StateError": "errors",
    "Event": "model",
    "EventKind": "model",
    "RunState": "model",
    "RunView": "model",
    "Snapshot": "model",
    "StageView": "model",
    "Launch": "scripter",
    "Scripter": "scripter",
    "Task": "tasks",
}

__all__ = [
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
    "RunState",
    "RunView",
    "Scripter",
    "Snapshot",
    "StageConfig",
    "StageView",
    "StateError",
    "Status",
    "Task",
    "Verdict",
    "load_config",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'coopy_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"coopy_core.{module}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
