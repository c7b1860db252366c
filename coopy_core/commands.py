"""The engine's commands, defined once: the Engine implements them, the control server checks and
dispatches them, RemoteEngine sends them, `coopy <verb>` and the TUI call them.

`Commands` is the typed interface (what a front end may call); `COMMANDS` describes each one for the
server (argument names and types, checked before the engine sees them) and the CLI (its verb, its
arguments' help, and the line it prints when the command is done).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from coopy_core.errors import CoopyError


class CommandError(CoopyError):
    """A command that cannot be carried out (unknown run, wrong state, bad value)."""


def _send(client: Any, command: str, **kwargs: Any) -> Any:
    """The default body of every command: a client (RemoteEngine) sends it by name with `_call`."""
    return client._call(command, **kwargs)


@runtime_checkable
class Commands(Protocol):
    """What a front end may ask of an engine, in process or over the socket.

    The Engine implements each one; a client that subclasses this (RemoteEngine) gets every command
    as a call of its `_call(command, **kwargs)`.
    """

    def pause(self, stage: str) -> None:
        """Stop starting new runs in a stage (running ones go on)."""
        return _send(self, "pause", stage=stage)

    def resume(self, stage: str) -> None:
        """Start runs in a paused stage again."""
        return _send(self, "resume", stage=stage)

    def toggle_pause(self, stage: str) -> bool:
        """Pause a running stage or resume a paused one; True when it is paused now."""
        return bool(_send(self, "toggle_pause", stage=stage))

    def set_workers(self, stage: str, workers: int) -> None:
        """Set a stage's cap on parallel runs (lowering it lets running ones finish)."""
        return _send(self, "set_workers", stage=stage, workers=workers)

    def add_workers(self, stage: str, delta: int) -> int:
        """Change a stage's worker cap by `delta` (kept within 1..10000); returns the new cap."""
        return int(_send(self, "add_workers", stage=stage, delta=delta))

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None:
        """Resize a resource pool: a list of ids, or an amount."""
        return _send(self, "set_pool", name=name, size=size)

    def bump(self, task: str, stage: str, delta: int = 1) -> int:
        """Change a queued run's priority by `delta`; returns the new priority."""
        return int(_send(self, "bump", task=task, stage=stage, delta=delta))

    def top(self, task: str, stage: str) -> int:
        """Move a queued run to the front of its stage's queue; returns its priority."""
        return int(_send(self, "top", task=task, stage=stage))

    def retry(self, task: str, stage: str) -> None:
        """Queue a failed or cancelled run again, with a fresh retry budget."""
        return _send(self, "retry", task=task, stage=stage)

    def cancel(self, task: str, stage: str) -> None:
        """Cancel a waiting or queued run, or stop a running one and everything it started."""
        return _send(self, "cancel", task=task, stage=stage)

    def retry_failed(self, stage: str | None = None) -> int:
        """Retry every failed or cancelled run of a stage (of every stage: None); returns how many."""
        return int(_send(self, "retry_failed", stage=stage))

    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str:
        """Add a configuration while the pipeline runs; returns its name."""
        return str(_send(self, "add_task", params=dict(params), name=name))

    def summary(self) -> dict[str, Any]:
        """The stages and only the runs worth naming one by one (running, blocked, failed, cancelled), in the
        JSON of `coopy status`: what its summary shows, without sending every queued run."""
        return dict(_send(self, "summary"))

    def queue_order(self, stage: str) -> list[str]:
        """Queued runs of a stage in the order they would start."""
        return list(_send(self, "queue_order", stage=stage))

    def metric_series(self, task: str, stage: str, name: str | None = None) -> dict[str, list[list[float]]]:
        """A run's metric series ([[step, value], ...] per metric, or only `name`) of its latest attempt."""
        return dict(_send(self, "metric_series", task=task, stage=stage, name=name))

    def results(
        self, group_by: list[str] | None = None, sort: str | None = None, stage: str | None = None
    ) -> dict[str, Any]:
        """The results table (as `coopy results --format json` prints it), grouped and sorted as asked."""
        return dict(_send(self, "results", group_by=group_by, sort=sort, stage=stage))

    def attempt_history(self, stage: str, task: str | None = None) -> list[dict[str, Any]]:
        """The ended attempts of a run (of every run of the stage: None), oldest first: attempt, state,
        exit_code, reason, started_at, ended_at, log."""
        return list(_send(self, "attempt_history", stage=stage, task=task))


@dataclass(frozen=True)
class Arg:
    name: str
    types: tuple[type, ...]
    help: str
    default: Any = ...  # ...: required
    flag: str = ""  # on the command line an option (`--by`) instead of a positional argument

    @property
    def required(self) -> bool:
        return self.default is ...


@dataclass(frozen=True)
class Command:
    name: str  # the method of `Commands`
    args: tuple[Arg, ...]
    verb: str = ""  # `coopy <verb>`; "" when the CLI has none
    done: str = ""  # what `coopy <verb>` prints, formatted with the arguments and {result}

    @property
    def help(self) -> str:
        doc = getattr(Commands, self.name).__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else self.name


_STAGE = Arg("stage", (str,), "the stage's name")
_TASK = Arg("task", (str,), "the run's name: a configuration's, or a group's (e.g. model=cnn, all)")

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("pause", (_STAGE,), "pause", "{stage}: paused"),
        Command("resume", (_STAGE,), "resume", "{stage}: resumed"),
        Command("toggle_pause", (_STAGE,)),
        Command(
            "set_workers", (_STAGE, Arg("workers", (int,), "the new cap")), "workers", "{stage}: workers {workers}"
        ),
        Command("add_workers", (_STAGE, Arg("delta", (int,), "how many more (negative: fewer)"))),
        Command(
            "set_pool",
            (Arg("name", (str,), "the pool's name"), Arg("size", (list, int, float), "ids (0,1,2) or an amount")),
            "pool",
            "pool {name}: {size_text}",
        ),
        Command(
            "bump",
            (_STAGE, _TASK, Arg("delta", (int,), "how much to raise it (negative: lower)", 1, "--by")),
            "bump",
            "{stage}/{task}: priority {result}",
        ),
        Command("top", (_STAGE, _TASK), "top", "{stage}/{task}: priority {result} (first in line)"),
        Command("retry", (_STAGE, _TASK), "retry", "{stage}/{task}: queued again"),
        Command("cancel", (_STAGE, _TASK), "cancel", "{stage}/{task}: cancelled"),
        Command(
            "retry_failed",
            (Arg("stage", (str, type(None)), "only this stage (default: every stage)", None, "--stage"),),
            "retry-failed",
            "{result} run(s) queued again",
        ),
        Command(
            "add_task",
            (
                Arg("params", (dict,), "the configuration's params"),
                Arg("name", (str, type(None)), "its name (default: derived from the params)", None, "--name"),
            ),
            "add",
            "added {result}",
        ),
        Command("summary", ()),
        Command("queue_order", (_STAGE,)),
        Command("metric_series", (_TASK, _STAGE, Arg("name", (str, type(None)), "one metric (default: all)", None))),
        Command(
            "results",
            (
                Arg("group_by", (list, type(None)), "params to group by", None),
                Arg("sort", (str, type(None)), "a metric or param; -name for descending", None),
                Arg("stage", (str, type(None)), "one row per run of this stage", None),
            ),
        ),
        Command(
            "attempt_history", (_STAGE, Arg("task", (str, type(None)), "only this run (default: every run)", None))
        ),
    )
}


def check_call(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a call from outside, by name and of the declared types; raises CommandError."""
    command = COMMANDS.get(name)
    if command is None:
        raise CommandError(f"unknown command {str(name)[:40]!r}")
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise CommandError(f"{name}: args must be a list and kwargs an object")
    if len(args) > len(command.args):
        raise CommandError(f"{name}: takes {len(command.args)} arguments, got {len(args)}")
    bound: dict[str, Any] = {}
    order = _positional_order(name)
    for arg_name, value in zip(order, args, strict=False):
        bound[arg_name] = value
    for key, value in kwargs.items():
        if not isinstance(key, str) or key not in {a.name for a in command.args}:
            raise CommandError(f"{name}: unknown argument {str(key)[:40]!r}")
        if key in bound:
            raise CommandError(f"{name}: {key} given twice")
        bound[key] = value
    for arg in command.args:
        if arg.name not in bound:
            if arg.required:
                raise CommandError(f"{name}: missing {arg.name}")
            bound[arg.name] = arg.default
        value = bound[arg.name]
        if isinstance(value, bool) and bool not in arg.types:
            raise CommandError(f"{name}: {arg.name} should be {_kind(arg.types)}, got {value!r}")
        if not isinstance(value, arg.types):
            raise CommandError(f"{name}: {arg.name} should be {_kind(arg.types)}, got {type(value).__name__}")
    return bound


def _positional_order(name: str) -> list[str]:
    """The method's own parameter order (positional calls follow the signature, not the CLI)."""
    import inspect

    return [p for p in inspect.signature(getattr(Commands, name)).parameters if p != "self"]


_KINDS = {str: "a string", int: "a whole number", float: "a number", list: "a list", dict: "an object"}


def _kind(types: tuple[type, ...]) -> str:
    return " or ".join(_KINDS.get(t, "null") for t in types)
