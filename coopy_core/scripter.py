"""Scripter: how a configuration is executed at a stage (the original CooPy extension point).

A Scripter turns (stage, task, attempt) into a Launch: argv, env and cwd. The
default fills placeholders into the stage's command; each value is one argv
item and never meets a shell unless the stage opts in with `shell = true`,
and then every value is shell-quoted.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from coopy_core import templates
from coopy_core.model import Launch  # defined below both: executors take it from the model
from coopy_core.plugin import Plugin
from coopy_core.tasks import Task

__all__ = ["INPUTS", "Launch", "Scripter", "placeholder_values", "shell_argv"]


def placeholder_values(task: Task, stage: str, attempt: int) -> dict[str, object]:
    values: dict[str, object] = dict(task.params)
    values.update(task=task.name, stage=stage, attempt=attempt)
    return values


INPUTS = "{inputs}"


def shell_argv() -> list[str]:
    """`shell = true` runs bash with pipefail, so `a | b` fails when `a` does; /bin/sh where there is no bash."""
    bash = shutil.which("bash")
    return [bash, "-o", "pipefail", "-c"] if bash else ["/bin/sh", "-c"]


class Scripter(Plugin):
    """How a run becomes a command: `script(task, attempt) -> Launch`, called for each attempt.

    The default fills the stage's `command` with the placeholders. Subclass it to build commands in
    Python, and give it to a stage: `scripter = "module:Class"` in coopy.toml, or the class or an
    object in Python (`Stage("train", scripter=TrainScripter)`). A class is made with `(stage, config)`;
    an object is bound to its stage with `bind(stage, config)` when the engine starts, so both have
    `self.stage` (the StageConfig) and `self.config` (the Config) before the first `script` call.

    `task` is the configuration (`task.name`, `task.params`), or for a stage over fewer params a group:
    its name and params, with the configurations in `task.members`. `attempt` counts from 1. Return a
    `Launch(argv, cwd, env)`: argv is run as is (no shell), env is added to the engine's environment.
    `outputs(task, attempt)` names the files the run must leave (default: the stage's `done_when`).

        class TrainScripter(Scripter):
            def script(self, task: Task, attempt: int) -> Launch:
                lr = 0.1 / attempt  # a retry runs with a smaller learning rate
                argv = [sys.executable, "train.py", "--model", str(task.params["model"]), "--lr", str(lr)]
                return Launch(argv=argv, cwd=self.config.base_dir, env={"OMP_NUM_THREADS": "1"})

    It runs in the engine's loop: keep it quick (no waiting on the network); an exception fails the
    attempt with its message. It is also asked, with attempt 1, what a run that already ran would be
    now (at start-up and for `coopy plan`, to see whether its result is still current): keep `script`
    free of side effects, and let what it returns depend only on the task, the attempt and the config.
    """

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
        cwd = self.run_cwd(task, attempt)
        env = {k: templates.render(v, values) for k, v in self.stage.env.items()}
        env.update(
            COOPY_TASK=task.name,
            COOPY_STAGE=self.stage.name,
            COOPY_ATTEMPT=str(attempt),
        )
        return Launch(argv=argv, cwd=cwd, env=env)

    def run_cwd(self, task: Task, attempt: int) -> Path:
        """The run's working directory: the config's folder, or the stage's `cwd` below it."""
        if not self.stage.cwd:
            return self.config.base_dir
        values = placeholder_values(task, self.stage.name, attempt)
        return self.config.base_dir / templates.render(self.stage.cwd, values)

    def inputs(self, task: Task, attempt: int) -> list[str]:
        """The stage's `inputs` rendered once per member, in config order (paths as written, relative to
        the run's working directory). A path two members render alike (a pattern without a member's
        placeholder: `genome.fa`) is shared: it comes once, where it first appears."""
        out: list[str] = []
        seen: set[str] = set()
        for member in task.configurations:
            values = placeholder_values(member, self.stage.name, attempt)
            for t in self.stage.inputs:
                path = templates.render(t, values)
                if path not in seen:
                    seen.add(path)
                    out.append(path)
        return out

    def outputs(self, task: Task, attempt: int) -> list[Path]:
        """The stage's `done_when` paths for this task, relative to its working directory."""
        values = placeholder_values(task, self.stage.name, attempt)
        cwd = self.config.base_dir / (templates.render(self.stage.cwd, values) if self.stage.cwd else "")
        return [cwd / templates.render(t, values) for t in self.stage.done_when]
