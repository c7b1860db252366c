"""What the models alone cannot check: the graph of stages (needs, over), each stage's placeholders, hooks,
executor and plug-in references. Each problem is one ConfigError naming the key."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coopy_core import templates
from coopy_core.config.models import ConfigFile, StageConfig
from coopy_core.config.plugin_refs import import_ref
from coopy_core.errors import ConfigError
from coopy_core.graph import Graph, GraphError, StageNode, resolve_needs
from coopy_core.tasks import Task, common_params


def check_graph(parsed: ConfigFile, tasks: list[Task], shown: str) -> tuple[list[tuple[str, ...]], Graph]:
    """needs (a DAG of known stages) and over (params every configuration has); groups with distinct names.
    Returns the needs filled in and the graph built to check them (the engine's, a million tasks are not
    added twice)."""
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
    common = common_params(tasks)
    for i, stage in enumerate(parsed.stages):
        if stage.over is None:
            continue
        for j, param in enumerate(stage.over):
            if param in stage.over[:j]:
                raise ConfigError(shown, f"stages[{i}].over", f"{param!r} is listed twice")
            if param not in common:
                lacking = next((t.name for t in tasks if param not in t.names), "?")
                what = "a parameter of every configuration" if any(param in t.names for t in tasks) else "a parameter"
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
            bad = next((i for i, s in enumerate(parsed.stages) if repr(s.name) in str(exc)), None)
            raise ConfigError(shown, "tasks" if bad is None else f"stages[{bad}].over", str(exc)) from None
    return needs, graph


def stage_placeholders(stage: StageConfig, common: set[str]) -> set[str]:
    """What a stage's command, outputs, env and cwd may name: the params its runs are over, and the
    built-in placeholders (`{inputs}` only in the command, and only with inputs)."""
    params = common if stage.over is None else set(stage.over)
    return params | set(templates.BUILTIN_PLACEHOLDERS)


def check_stages(
    parsed: ConfigFile, tasks: list[Task], shown: str, base_dir: Path, plugins: Mapping[str, Mapping[str, object]]
) -> None:
    """Each stage in file order, each key in a fixed order, so the first problem is always the same one."""
    seen: set[str] = set()
    common = common_params(tasks)  # reserved names: refused by expand_tasks
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
