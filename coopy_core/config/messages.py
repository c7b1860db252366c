"""Pydantic's errors said as one line a person can act on: the key path as written in the file, and the
problem in words (`should be a whole number, got '3'`)."""

from __future__ import annotations

from typing import Any


def key_path(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("list[str]", "str", "str-enum", "int", "float", "bool", "function-after"):
            continue  # pydantic's union-member labels, not keys
        elif str(item).startswith(("list[", "constrained-", "lax-or-strict", "function-")):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    path = "".join(parts)
    return path or "(top level)"


_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "int_from_float": "a whole number",
}


def describe(err: Any) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing (required)"
    if kind in _TYPE_WORDS:
        return f"should be {_TYPE_WORDS[kind]}, got {show(got)}"
    if kind == "string_pattern_mismatch":
        return (
            f"{show(got)} is not a valid name (letters, digits and . _ + = , @ -; "
            "no spaces or slashes; must start with a letter or digit)"
        )
    if kind == "literal_error":
        return f"{show(got)} is not allowed: {err['msg'].removeprefix('Input should be ')}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    msg = msg.replace("Input should be", "should be")
    return f"{msg}, got {show(got)}" if got is not None and not isinstance(got, dict) else msg


def show(value: Any) -> str:
    if isinstance(value, dict):  # before repr(): a table may nest thousands deep
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
