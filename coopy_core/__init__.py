"""CooPy's engine: per-stage queues for chains of operations over many configurations.

Importable without any user interface: nothing here imports textual.
"""

from coopy_core.commands import CommandError, Commands
from coopy_core.config import Config, ConfigError, StageConfig, load_config
from coopy_core.detector import DetectContext, Detector, Status, Verdict
from coopy_core.engine import Engine
from coopy_core.errors import CoopyError, StateError
from coopy_core.model import Event, EventKind, RunState, RunView, Snapshot, StageView
from coopy_core.scripter import Launch, Scripter
from coopy_core.tasks import Task

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
