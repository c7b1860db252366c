"""The commands are defined once (coopy_core.commands.COMMANDS): the server answers each op of the table with one
handler, RemoteEngine sends each one, and `coopy <verb>` exists for each row with a verb."""

from __future__ import annotations

import pytest

from coopy_core.cli.main import _parser
from coopy_core.cli.verbs import VERBS
from coopy_core.commands import COMMANDS, CommandError, Commands, check_request, request
from coopy_core.engine import Engine
from coopy_core.wire.remote import RemoteEngine
from coopy_core.wire.server import ControlServer

CONTROL_OPS = {"hello", "snapshot", "subscribe", "stop", "task_count"}


def test_every_wire_op_is_a_row_of_the_table() -> None:
    assert set(COMMANDS) >= CONTROL_OPS
    engine_commands = {n for n, c in COMMANDS.items() if c.answered_by == "engine"}
    assert engine_commands == {n for n in vars(Commands) if not n.startswith("_")}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_op_has_one_handler_and_a_client(name: str) -> None:
    command = COMMANDS[name]
    if command.answered_by == "server":
        assert callable(getattr(ControlServer, f"_{name}"))
    else:
        assert callable(getattr(Engine, name))
    if name != "subscribe":  # RemoteEngine subscribes at connect(); its subscribe() is local
        assert hasattr(RemoteEngine, name)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_request_built_from_the_table_is_read_back_by_it(name: str) -> None:
    command = COMMANDS[name]
    values = {a.name: (a.default if not a.required else _sample(a.types)) for a in command.args}
    found, bound = check_request(request(name, values))
    assert found is command and bound == values


def _sample(types: tuple[type, ...]) -> object:
    return {str: "x", int: 1, dict: {}, list: [], bool: True}[types[0]]


def test_a_control_op_cannot_be_called_as_a_command_nor_a_command_sent_as_an_op() -> None:
    with pytest.raises(CommandError, match="unknown command 'hello'"):
        check_request({"op": "call", "name": "hello"})
    with pytest.raises(CommandError, match="unknown op 'pause'"):
        check_request({"op": "pause", "stage": "s"})
    with pytest.raises(CommandError, match="stop_running should be true or false"):
        check_request({"op": "stop", "stop_running": "yes"})


def test_every_row_with_a_verb_is_a_subcommand() -> None:
    verbs = {c.verb for c in COMMANDS.values() if c.verb}
    assert verbs <= set(VERBS)
    choices = next(a for a in _parser()._actions if a.dest == "command").choices
    assert choices is not None and list(choices) == list(VERBS)


def test_retry_failed_help_names_no_python_value() -> None:
    assert "None" not in VERBS["retry-failed"].help
    assert (
        VERBS["retry-failed"].help
        == "retry every failed or cancelled run of a stage, or of every stage; returns how many"
    )


def test_the_parse_hook_of_params_takes_key_value_pairs() -> None:
    from coopy_core.commands import parse_params

    parsed = parse_params(["seed=7", "model=cnn", "lr=0.5", "fast=true", "tags=[1]"], None, {})
    assert parsed == {"seed": 7, "model": "cnn", "lr": 0.5, "fast": True, "tags": "[1]"}
    with pytest.raises(CommandError, match="parameters are KEY=VALUE"):
        parse_params(["seed"], None, {})


def test_the_parse_hook_of_a_pool_size_asks_the_engine_which_kind_of_pool_it_is() -> None:
    from types import SimpleNamespace

    from coopy_core.commands import parse_pool_size

    engine = SimpleNamespace(
        snapshot=lambda: SimpleNamespace(pools={"gpus": {"size": [0, 1]}, "mem_gb": {"size": 64.0}})
    )
    assert parse_pool_size("0, 1,2", engine, {"name": "gpus"}) == ["0", "1", "2"]
    assert parse_pool_size("32", engine, {"name": "mem_gb"}) == 32.0
    with pytest.raises(CommandError, match="takes an amount"):
        parse_pool_size("a,b", engine, {"name": "mem_gb"})
    with pytest.raises(CommandError, match="no resource pool named 'disk'"):
        parse_pool_size("1", engine, {"name": "disk"})
