"""Plug-ins (Scripters and Detectors) are a boundary: made before anything is written, and every answer
checked before the engine uses it.

A stage names one in the config as `module:Class`, or is given a class or an object in Python
(`Stage(..., scripter=MyScripter)`). `make_plugins` imports and makes (or binds) them all — a failure is one
ConfigError naming the stage and key; the `checked_*` functions turn a wrong answer into a PluginError whose
message is the one line that fails the attempt.
"""

from __future__ import annotations

from pathlib import Path

from coopy_core.config import Config, ConfigError, import_ref
from coopy_core.detector import Detector, ExitStatusDetector, Status, Verdict
from coopy_core.scripter import Launch, Scripter

# what the engine calls on each kind of plug-in
REQUIRED = {"scripter": ("script", "outputs"), "detector": ("check",)}


def make_plugins(config: Config) -> tuple[dict[str, Scripter], dict[str, Detector]]:
    """Every stage's Scripter and Detector, made now: a class is made with (stage, config), an object given in
    Python is bound to its stage (`bind`) and used as it is. A plug-in that cannot be imported or made, or is
    not one, is a ConfigError naming `stages[i].scripter` / `.detector` (nothing has been written yet)."""
    scripters: dict[str, Scripter] = {}
    detectors: dict[str, Detector] = {}
    shown = config.source or str(config.path)
    for i, stage in enumerate(config.stages):
        given = config.plugins.get(stage.name, {})
        for attr, default, into in (
            ("scripter", Scripter, scripters),
            ("detector", ExitStatusDetector, detectors),
        ):
            ref = getattr(stage, attr)
            obj = given.get(attr)
            what = f"{ref}: " if ref else ""
            key = f"stages[{i}].{attr}"
            plugin: object
            try:
                if obj is not None and not isinstance(obj, type):
                    obj.bind(stage, config)  # type: ignore[attr-defined]
                    plugin = obj
                else:
                    try:
                        cls = obj if obj is not None else import_ref(ref, config.base_dir) if ref else default
                    except ValueError as exc:
                        raise ConfigError(shown, key, f"{what}{one_line(exc)}") from None
                    plugin = cls(stage, config)
            except ConfigError:
                raise
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plug-in's failure is the user's to fix
                problem = f"{what}cannot be made ({type(exc).__name__}: {one_line(exc)})"
                raise ConfigError(shown, key, problem) from None
            missing = [m for m in REQUIRED[attr] if not callable(getattr(plugin, m, None))]
            if attr == "detector" and not missing and not hasattr(plugin, "polls"):
                missing = ["polls"]
            if missing:
                kind = "Scripter" if attr == "scripter" else "Detector"
                has = "()" if missing[0] != "polls" else " attribute"
                raise ConfigError(shown, key, f"{what}is not a {kind}: it has no {missing[0]}{has}")
            into[stage.name] = plugin  # type: ignore[assignment]
    return scripters, detectors


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


class PluginError(Exception):
    """A Scripter or Detector broke its contract; the message is the one line that fails the attempt."""


def plugin_name(plugin: object) -> str:
    cls = type(plugin)
    return f"{cls.__module__}:{cls.__qualname__}"


def short(value: object, limit: int = 80) -> str:
    try:
        text = " ".join(repr(value).split())
    except Exception:  # noqa: BLE001 - a repr that raises
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plugin_problem(kind: str, plugin: object, exc: BaseException) -> str:
    """One line naming the plug-in and what went wrong."""
    if isinstance(exc, PluginError):
        return f"{kind} {plugin_name(plugin)}: {exc}"
    text = one_line(exc)
    return f"{kind} {plugin_name(plugin)} raised {type(exc).__name__}" + (f": {text}" if text else "")


def checked_launch(launch: object) -> Launch:
    """What a Scripter returned, if it is a Launch of the right types; else PluginError."""
    if not isinstance(launch, Launch):
        raise PluginError(f"script() returned {short(launch)}, not a Launch")
    if not isinstance(launch.argv, list | tuple) or not launch.argv:
        raise PluginError(f"script() returned argv {short(launch.argv)}: a non-empty list of strings is needed")
    for i, item in enumerate(launch.argv):
        if not isinstance(item, str):
            raise PluginError(f"script() returned argv[{i}] = {short(item)} ({type(item).__name__}), not a string")
        if "\0" in item:
            raise PluginError(f"script() returned argv[{i}] with a NUL character")
    if not isinstance(launch.cwd, str | Path):
        raise PluginError(f"script() returned cwd {short(launch.cwd)}, not a path")
    if not isinstance(launch.env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
        for k, v in launch.env.items()
    ):
        raise PluginError(f"script() returned env {short(launch.env)}: names and values should be strings")
    return Launch(argv=list(launch.argv), cwd=Path(launch.cwd), env=dict(launch.env))


def checked_verdict(detector: object, verdict: object) -> Verdict:
    """What a Detector returned, if it is a Verdict with a Status and a string reason; else PluginError."""
    if not isinstance(verdict, Verdict):
        raise PluginError(f"detector {plugin_name(detector)} returned {short(verdict)}, not a Verdict")
    try:
        status = Status(verdict.status)
    except (ValueError, TypeError):
        raise PluginError(
            f"detector {plugin_name(detector)} returned status {short(verdict.status)}, not a Status"
        ) from None
    if not isinstance(verdict.reason, str):
        raise PluginError(f"detector {plugin_name(detector)} returned reason {short(verdict.reason)}, not a string")
    reason = verdict.reason if "\n" not in verdict.reason else " ".join(verdict.reason.splitlines())
    return Verdict(status, reason)
