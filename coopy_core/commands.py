"""Every operation of the control socket, defined once: the engine's commands and the control ops (hello,
snapshot, subscribe, stop, task_count) are rows of one table, `COMMANDS`.

`Commands` is the typed interface of the engine's commands (what a front end may call; the Engine implements
it) and `Control` that of the control ops a client sends (the server answers them). Each row of `COMMANDS`
says how the op travels (`request` builds it, `check_request` reads and checks it), who answers it, its
arguments' names and types, and for `coopy <verb>` its verb, each argument's parse hook and the line printed
when it is done. The server, RemoteEngine, the CLI and the README's table are made from it.
"""

from __future__ import annotations

import inspect
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import tomli

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

    def cancel_runs(self, runs: list[list[str]]) -> int:
        """Cancel each of these runs ([stage, task] pairs) that is waiting, queued or running; returns how many."""
        return int(_send(self, "cancel_runs", runs=runs))

    def cancel_stage(self, stage: str) -> int:
        """Cancel every waiting, queued or running run of a stage, those not reached yet too; returns how many."""
        return int(_send(self, "cancel_stage", stage=stage))

    def retry_runs(self, runs: list[list[str]]) -> int:
        """Queue again each of these runs ([stage, task] pairs) that failed or was cancelled; returns how many."""
        return int(_send(self, "retry_runs", runs=runs))

    def bump_runs(self, runs: list[list[str]], delta: int = 1) -> int:
        """Change the priority of each of these runs ([stage, task] pairs) that is queued by `delta`; returns how
        many (none changes when one would leave the range)."""
        return int(_send(self, "bump_runs", runs=runs, delta=delta))

    def waits_on(self, stage: str, task: str) -> list[str] | None:
        """The run a waiting or blocked run waits on, as [stage, task] (None: it waits on nothing): a run it needs
        that failed or was cancelled, else the start of a blocked one's chain, else one running or queued."""
        found = _send(self, "waits_on", stage=stage, task=task)
        return [str(x) for x in found] if found is not None else None

    def retry_failed(self, stage: str | None = None) -> int:
        """Retry every failed or cancelled run of a stage, or of every stage; returns how many."""
        return int(_send(self, "retry_failed", stage=stage))

    def rerun(self, stage: str, task: str | None = None, downstream: bool = False) -> int:
        """Run a finished run again (done, skipped, failed or cancelled), or every one of a stage, and what
        consumes it; returns how many runs will run."""
        return int(_send(self, "rerun", stage=stage, task=task, downstream=downstream))

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


class Control:
    """The control ops a client sends besides the commands (RemoteEngine has them; the server answers them).

    `snapshot` and `subscribe` are ops too (rows of `COMMANDS`), but a client keeps state around them
    (the last snapshot's seq, its event stream), so RemoteEngine writes those two itself.
    """

    def hello(self) -> dict[str, Any]:
        """Who serves: the engine's pid, its pipeline's name and its config's path."""
        return dict(_send(self, "hello"))

    def stop(self, stop_running: bool = False) -> None:
        """Stop the background engine (running commands keep running)."""
        return _send(self, "stop", stop_running=stop_running)

    @property
    def task_count(self) -> int:
        """How many configurations the pipeline has now."""
        return int(_send(self, "task_count"))


Parse = Callable[[Any, Any, Mapping[str, Any]], Any]
"""A CLI parse hook: (what argparse gave, the connected engine, the other arguments) -> the argument's value."""


@dataclass(frozen=True)
class CliArg:
    """How `coopy <verb>` takes an argument that is more than a plain string or number."""

    parse: Parse
    help: str = ""  # the --help text, when it says more than the wire's
    nargs: str | None = None
    metavar: str | None = None


@dataclass(frozen=True)
class Arg:
    name: str
    types: tuple[type, ...]
    help: str
    default: Any = ...  # ...: required
    flag: str = ""  # on the command line an option (`--by`) instead of a positional argument
    cli: CliArg | None = None  # its parse hook on the command line (default: the text, or a whole number)

    @property
    def required(self) -> bool:
        return self.default is ...


Done = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Command:
    """One op of the control socket."""

    name: str  # the method of `Commands` or `Control` (or the op's name)
    args: tuple[Arg, ...] = ()
    verb: str = ""  # `coopy <verb>`; "" when the CLI has none
    done: str | Done = ""  # what `coopy <verb>` prints: formatted with the arguments, {NAME_text} and {result}
    answered_by: Literal["engine", "server"] = "engine"  # the Engine's method of that name, or the server's
    sent_as: Literal["call", "op"] = "call"  # {"op": "call", "name": NAME, "kwargs": ...} or {"op": NAME, ...}
    doc: str = ""  # what it does, when no method of `Commands` or `Control` has its name
    # sent to an engine still starting (it holds the state dir, its socket not bound yet) as this signal, which
    # the engine takes for the same request (stop: SIGTERM); 0: such an engine is told to be waited for
    while_starting: int = 0

    @property
    def help(self) -> str:
        method = getattr(Commands, self.name, None) or getattr(Control, self.name, None)
        doc = self.doc or (method.__doc__ if method is not None else "") or ""
        return doc.strip().splitlines()[0] if doc.strip() else self.name

    def said(self, values: Mapping[str, Any]) -> str:
        """The line `coopy <verb>` prints when it is done (`values`: the arguments, NAME_text and result)."""
        return self.done(values) if callable(self.done) else self.done.format(**values)


# ---------------------------------------------------------------------------------------------- CLI parse hooks
def parse_params(raw: Sequence[str], engine: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """`seed=7 model=cnn` -> {"seed": 7, "model": "cnn"} (TOML values: 3 an int, 0.5 a float, true a bool)."""
    return dict(_parse_param(text) for text in raw)


def _parse_param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise CommandError(f"{text!r}: parameters are KEY=VALUE")
    try:
        value = tomli.loads(f"v = {raw}")["v"]  # 3 -> int, 0.5 -> float, true -> bool
    except tomli.TOMLDecodeError:
        value = raw  # anything else is a string
    if not isinstance(value, str | int | float | bool):
        value = raw
    return key, value


def parse_pool_size(raw: str, engine: Any, values: Mapping[str, Any]) -> list[int | str] | float:
    """`0,1,2` for a pool of ids (gpus), a number for an amount (mem_gb): the engine says which it is."""
    name = values["name"]
    pools = engine.snapshot().pools
    if name not in pools:
        raise CommandError(f"no resource pool named {name!r} (pools: {', '.join(pools) or 'none'})")
    if isinstance(pools[name]["size"], list):  # an id pool: "0,1,2"
        return [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return float(raw)
    except ValueError:
        raise CommandError(f"{raw!r}: the pool {name!r} takes an amount") from None


def _as_given(raw: Any, engine: Any, values: Mapping[str, Any]) -> Any:
    return raw


def _reran(values: Mapping[str, Any]) -> str:
    what = f"{values['stage']}/{values['task']}" if values.get("task") else f"stage {values['stage']}"
    return f"{what}: {values['result']} run(s) to run again"


def _stopping(values: Mapping[str, Any]) -> str:
    return "engine stopping" + (" and stopping running commands" if values["stop_running"] else "")


# ---------------------------------------------------------------------------------------------- the table
_STAGE = Arg("stage", (str,), "the stage's name")
_TASK = Arg("task", (str,), "the run's name: a configuration's, or a group's (e.g. model=cnn, all)")
_RUNS = Arg("runs", (list,), "the runs, as [stage, task] pairs")
_SNAPSHOT_DOC = "Every stage and run as the engine sees them now, with the seq of the last event in it."

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        # the control ops: answered by the server
        Command("hello", answered_by="server", sent_as="op"),
        Command(
            "snapshot",
            (Arg("rows", (bool,), "runs as rows under one list of field names (a third of the bytes)", False),),
            answered_by="server",
            sent_as="op",
            doc=_SNAPSHOT_DOC,
        ),
        Command(
            "subscribe",
            (Arg("snapshot", (bool,), "the snapshot first (false: only the seq the stream starts after)", True),),
            answered_by="server",
            sent_as="op",
            doc="The snapshot, then every event after it on this connection until the client leaves.",
        ),
        Command(
            "stop",
            (Arg("stop_running", (bool,), "also stop running commands (re-queued)", False, "--stop-running"),),
            "stop",
            _stopping,
            answered_by="server",
            sent_as="op",
            while_starting=signal.SIGTERM,
        ),
        Command("task_count", answered_by="server"),
        # the engine's commands
        Command("pause", (_STAGE,), "pause", "{stage}: paused"),
        Command("resume", (_STAGE,), "resume", "{stage}: resumed"),
        Command("toggle_pause", (_STAGE,)),
        Command(
            "set_workers", (_STAGE, Arg("workers", (int,), "the new cap")), "workers", "{stage}: workers {workers}"
        ),
        Command("add_workers", (_STAGE, Arg("delta", (int,), "how many more (negative: fewer)"))),
        Command(
            "set_pool",
            (
                Arg("name", (str,), "the pool's name"),
                Arg(
                    "size",
                    (list, int, float),
                    "ids (0,1,2) or an amount",
                    cli=CliArg(parse_pool_size, "ids separated by commas (gpus), or an amount (mem_gb)"),
                ),
            ),
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
        Command("cancel_runs", (_RUNS,)),
        Command("cancel_stage", (_STAGE,), "cancel-stage", "{stage}: {result} run(s) cancelled"),
        Command("retry_runs", (_RUNS,)),
        Command("bump_runs", (_RUNS, Arg("delta", (int,), "how much to raise each (negative: lower)", 1))),
        Command("waits_on", (_STAGE, _TASK)),
        Command(
            "retry_failed",
            (Arg("stage", (str, type(None)), "only this stage (default: every stage)", None, "--stage"),),
            "retry-failed",
            "{result} run(s) queued again",
        ),
        Command(
            "rerun",
            (
                _STAGE,
                Arg(
                    "task",
                    (str, type(None)),
                    "the run (default: every finished run of the stage)",
                    None,
                    cli=CliArg(_as_given, nargs="?", metavar="TASK"),
                ),
                Arg(
                    "downstream",
                    (bool,),
                    "also run again the failed and cancelled runs that consume it",
                    False,
                    "--downstream",
                ),
            ),
            "rerun",
            _reran,
        ),
        Command(
            "add_task",
            (
                Arg(
                    "params",
                    (dict,),
                    "the configuration's params",
                    cli=CliArg(parse_params, nargs="*", metavar="KEY=VALUE"),
                ),
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


# ---------------------------------------------------------------------------------------------- on the wire
CALL = "call"  # the op that carries a command by name


def request(name: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request (without its id) that sends op `name` with these arguments."""
    command = COMMANDS[name]
    if command.sent_as == CALL:
        return {"op": CALL, "name": name, "args": [], "kwargs": dict(kwargs)}
    return {"op": name, **kwargs}


def check_request(request: Mapping[str, Any]) -> tuple[Command, dict[str, Any]]:
    """The op a request asks for and its arguments, checked against the table; raises CommandError.

    `request["op"]` is a string (the server checked). Fields an op does not declare are ignored."""
    op = request["op"]
    if op == CALL:
        name = request.get("name")
        if not isinstance(name, str):
            raise CommandError(f"bad request: the command's name should be a string, got {type(name).__name__}")
        args = request.get("args", [])
        kwargs = request.get("kwargs", {})
        bound = check_call(name, [] if args is None else args, {} if kwargs is None else kwargs)
        return COMMANDS[name], bound
    command = COMMANDS.get(op)
    if command is None or command.sent_as != "op":
        raise CommandError(f"unknown op {op[:40]!r}")
    return command, _bind(command, {}, {a.name: request[a.name] for a in command.args if a.name in request})


def check_call(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a call from outside, by name and of the declared types; raises CommandError."""
    command = COMMANDS.get(name)
    if command is None or command.sent_as != CALL:
        raise CommandError(f"unknown command {str(name)[:40]!r}")
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise CommandError(f"{name}: args must be a list and kwargs an object")
    if len(args) > len(command.args):
        raise CommandError(f"{name}: takes {len(command.args)} arguments, got {len(args)}")
    bound = dict(zip(_positional_order(command), args, strict=False))
    return _bind(command, bound, kwargs)


def _bind(command: Command, bound: dict[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    name = command.name
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


def _positional_order(command: Command) -> list[str]:
    """The method's own parameter order (positional calls follow the signature, not the CLI)."""
    method = getattr(Commands, command.name, None)
    if method is None:
        return [a.name for a in command.args]
    return [p for p in inspect.signature(method).parameters if p != "self"]


_KINDS = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    list: "a list",
    dict: "an object",
    bool: "true or false",
}


def _kind(types: tuple[type, ...]) -> str:
    return " or ".join(_KINDS.get(t, "null") for t in types)
