"""Scripter: how a configuration is executed at a stage (the original CooPy extension point).

A Scripter turns (stage, task, attempt) into a Launch: argv, env and cwd. The
default fills placeholders into the stage's command; each value is one argv
item and never meets a shell unless the stage opts in with `shell = true`,
and then every value is shell-quoted.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from coopy_core import templates
from coopy_core.config import Config, StageConfig
from coopy_core.tasks import Task


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


def placeholder_values(task: Task, stage: str, attempt: int) -> dict[str, object]:
    values: dict[str, object] = dict(task.params)
    values.update(task=task.name, stage=stage, attempt=attempt)
    return values


INPUTS = "{inputs}"


def shell_argv() -> list[str]:
    """`shell = true` runs bash with pipefail, so `a | b` fails when `a` does; /bin/sh where there is no bash."""
    bash = shutil.which("bash")
    return [bash, "-o", "pipefail", "-c"] if bash else ["/bin/sh", "-c"]


class Scripter:
    """Subclass and name it in a stage as `scripter = "module:Class"` to build commands in Python.

    `script(task, attempt) -> Launch` is called for each attempt; `task` is the configuration, or for a
    stage over fewer params a group: its name and params, with the configurations in `task.members`.
    """

    def __init__(self, stage: StageConfig, config: Config) -> None:
        self.stage = stage
        self.config = config

    def script(self, task: Task, attempt: int) -> Launch:
        values = placeholder_values(task, self.stage.name, attempt)
        inputs = self.inputs(task, attempt) if self.stage.inputs else None
        if inputs is not None:
            values["inputs"] = " ".join(shlex.quote(str(p)) for p in inputs)  # only used with shell = true
        if self.stage.shell:
            raw = {"inputs"} if inputs is not None else set()
            argv = [*shell_argv(), templates.render(self.stage.argv_templates[0], values, quote=True, raw=raw)]
        else:
            argv = []
            for t in self.stage.argv_templates:
                if inputs is not None and t == INPUTS:
                    argv.extend(inputs)  # one argument per path, never joined
                else:
                    argv.append(templates.render(t, values))
        cwd = self.config.base_dir
        if self.stage.cwd:
            cwd = cwd / templates.render(self.stage.cwd, values)
        env = {k: templates.render(v, values) for k, v in self.stage.env.items()}
        env.update(
            COOPY_TASK=task.name,
            COOPY_STAGE=self.stage.name,
            COOPY_ATTEMPT=str(attempt),
        )
        return Launch(argv=argv, cwd=cwd, env=env)

    def inputs(self, task: Task, attempt: int) -> list[str]:
        """The stage's `inputs` rendered once per member, in config order (paths as written, relative to
        the run's working directory)."""
        out: list[str] = []
        for member in task.configurations:
            values = placeholder_values(member, self.stage.name, attempt)
            out.extend(templates.render(t, values) for t in self.stage.inputs)
        return out

    def outputs(self, task: Task, attempt: int) -> list[Path]:
        """The stage's `done_when` paths for this task, relative to its working directory."""
        values = placeholder_values(task, self.stage.name, attempt)
        cwd = self.config.base_dir / (templates.render(self.stage.cwd, values) if self.stage.cwd else "")
        return [cwd / templates.render(t, values) for t in self.stage.done_when]

