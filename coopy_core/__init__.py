"""CooPy's engine: per-stage queues for chains of operations over many configurations.

Importable without any user interface: nothing here imports textual.

    from coopy_core import Pipeline, Stage, Matrix   # a pipeline in Python (or load_config("coopy.toml"))
    results = Pipeline(...).run()                   # run it here; Results per run: state, attempts, ...
    Engine(config)                                  # the async API, for callers with their own loop
"""

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
