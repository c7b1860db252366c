"""The tables of coopy.toml as pydantic models: `[pipeline]`, `[tasks]`, `[[stages]]`, `[tui]` and the
whole file. Strict: an unknown key or a "3" for 3 is an error, never a guess."""

from __future__ import annotations

import shlex
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, StrictFloat, StrictInt, StrictStr, field_validator, model_validator

from coopy_core.config.cluster import RayOptions, SlurmOptions
from coopy_core.config.fields import Name, ParamValue, Strict


class PipelineConfig(Strict):
    name: Name = "pipeline"
    poll_interval: float = Field(default=2.0, gt=0, le=3600)
    state_dir: str = ".coopy"
    log_dir: str | None = None
    detector_timeout: float = Field(default=60.0, gt=0)
    on_finished: list[StrictStr] | StrictStr | None = None  # hook: {pipeline}, {state} = passed | failed
    notify: list[StrictStr] | StrictStr | None = None  # apprise URLs: a run failed for good, the pipeline's end
    # how local runs start: a /bin/sh wrapper each (writes its exit status), or one spawn helper per engine
    local_start: Literal["wrapper", "helper"] = "wrapper"


class TasksConfig(Strict):
    matrix: dict[str, list[ParamValue]] = Field(default_factory=dict)
    exclude: list[dict[str, ParamValue]] = Field(default_factory=list)
    named: dict[str, dict[str, ParamValue]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _exclude_in_the_matrix(cls, data: Any) -> Any:
        """`exclude = [{...}]` may also stand in [tasks.matrix], where a reader of the matrix looks for it: a list
        of tables there was always refused, so taking it as the exclusions changes no valid config (a matrix
        param named `exclude` has plain values, and stays a param)."""
        if not isinstance(data, dict) or not isinstance(data.get("matrix"), dict):
            return data
        listed = data["matrix"].get("exclude")
        if not isinstance(listed, list) or not listed or not all(isinstance(item, dict) for item in listed):
            return data
        matrix = {key: value for key, value in data["matrix"].items() if key != "exclude"}
        given = data.get("exclude", [])
        return {**data, "matrix": matrix, "exclude": [*given, *listed] if isinstance(given, list) else given}

    @field_validator("matrix")
    @classmethod
    def _non_empty_lists(cls, matrix: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in matrix.items():
            if not values:
                raise ValueError(f"matrix parameter {key!r} has no values")
        return matrix


class StageConfig(Strict):
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
    notify: list[StrictStr] | StrictStr | None = None  # apprise URLs for its failures, instead of [pipeline]'s
    slurm: SlurmOptions | None = None
    ray: RayOptions | None = None

    @cached_property
    def argv_templates(self) -> tuple[str, ...]:
        """The command as templates (a string is split like a shell would, without one); made once, not per run."""
        if self.command is None:
            return ()
        if isinstance(self.command, str):
            return (self.command,) if self.shell else tuple(shlex.split(self.command))
        if self.shell:
            return (" ".join(self.command),)
        return tuple(self.command)


class TuiConfig(Strict):
    """`[tui]`: how coopy-tui looks and which keys it answers to; the engine ignores it. A user's own
    `$XDG_CONFIG_HOME/coopy/tui.toml` (same keys, top level) overrides it key by key."""

    keys: dict[str, StrictStr] = Field(default_factory=dict)  # action -> keys: `more_workers = "w,plus"`
    theme: StrictStr | None = None  # a Textual theme: "textual-dark", "catppuccin-latte", ...
    notify: Literal["none", "bell", "osc9", "osc777"] = "none"  # when the pipeline finishes


class ConfigFile(Strict):
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    # pools; `gpus = "auto"` and `gpu_others = "avoid" | "share" | "ignore"` are the two strings (config/gpus.py)
    resources: dict[str, list[StrictInt | StrictStr] | StrictInt | StrictFloat | StrictStr] = Field(
        default_factory=dict
    )
    stages: list[StageConfig]
    tui: TuiConfig = Field(default_factory=TuiConfig)
