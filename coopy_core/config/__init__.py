"""coopy.toml: pydantic models, loading with one-line errors, and the starter file for `coopy init`.

Every problem becomes a ConfigError naming the file and the key path, so the
CLIs can print one line and exit 2 before anything is started or written.

One job per module: `models` (the tables of the file) and `cluster` (a stage's slurm / ray options) over the
strict base in `fields`; `load` (TOML or plain data in, Config out: the one validation path of the TOML and
the Python API) with `checks` (graph, placeholders, hooks, executors), `pools` ([resources]), `notify` (apprise
URLs: apprise imported only when the key is used) and `messages` (pydantic's errors in one line); `validated`
(the Config every front end gets); `dump` (TOML out, the starter); `plugin_refs` (`module:Class`). Import the
names from here.
"""

from __future__ import annotations

from coopy_core.config.checks import FINISHED_PLACEHOLDERS, HOOK_PLACEHOLDERS, hook_argv, stage_placeholders
from coopy_core.config.cluster import RESERVED_SBATCH_OPTIONS, RayOptions, RayRuntimeEnv, SlurmOptions
from coopy_core.config.dump import STARTER_CONFIG, dump_config, starter_toml
from coopy_core.config.fields import NAME_PATTERN, Name, ParamValue
from coopy_core.config.load import config_from_dict, load_config, load_tui_file
from coopy_core.config.models import ConfigFile, PipelineConfig, StageConfig, TasksConfig, TuiConfig
from coopy_core.config.notify import notify_urls
from coopy_core.config.plugin_refs import import_ref
from coopy_core.config.pools import MAX_AMOUNT
from coopy_core.config.validated import Config
from coopy_core.errors import ConfigError

__all__ = [
    "FINISHED_PLACEHOLDERS",
    "HOOK_PLACEHOLDERS",
    "MAX_AMOUNT",
    "NAME_PATTERN",
    "RESERVED_SBATCH_OPTIONS",
    "STARTER_CONFIG",
    "Config",
    "ConfigError",
    "ConfigFile",
    "Name",
    "ParamValue",
    "PipelineConfig",
    "RayOptions",
    "RayRuntimeEnv",
    "SlurmOptions",
    "StageConfig",
    "TasksConfig",
    "TuiConfig",
    "config_from_dict",
    "dump_config",
    "hook_argv",
    "import_ref",
    "load_config",
    "load_tui_file",
    "notify_urls",
    "stage_placeholders",
    "starter_toml",
]
