"""The one difference between two values, shown so a person sees it: the first differing element of a list
(its index, both values), the first differing key of a mapping, and of two long strings the part around
the first character that differs — never both sides cut to the same prefix."""

from __future__ import annotations

import json
from typing import Any

WIDTH = 60  # characters of a value shown
BEFORE = 20  # characters shown before the first difference of two long strings


def difference(before: Any, after: Any, where: str = "") -> str:
    """`where: before → after` at the first place the two differ (`argv[4]: "..." → "..."`)."""
    if isinstance(before, list) and isinstance(after, list):
        for i, (a, b) in enumerate(zip(before, after, strict=False)):
            if a != b:
                return difference(a, b, f"{where}[{i}]")
        if len(after) > len(before):
            return f"{where}[{len(before)}] added: {shown(after[len(before)])}"
        return f"{where}[{len(after)}] removed: {shown(before[len(after)])}"
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            if key not in before:
                return f"{_join(where, key)} added: {shown(after[key])}"
            if key not in after:
                return f"{_join(where, key)} removed (was {shown(before[key])})"
            if before[key] != after[key]:
                return difference(before[key], after[key], _join(where, key))
    if isinstance(before, str) and isinstance(after, str):
        old, new = around(before, after)
        return f"{where}: {old} → {new}" if where else f"{old} → {new}"
    return f"{where}: {shown(before)} → {shown(after)}" if where else f"{shown(before)} → {shown(after)}"


def around(before: str, after: str) -> tuple[str, str]:
    """Both strings quoted; long ones cut to the part around their first difference."""
    if len(before) <= WIDTH and len(after) <= WIDTH:
        return json.dumps(before), json.dumps(after)
    same = 0
    for a, b in zip(before, after, strict=False):
        if a != b:
            break
        same += 1
    start = max(0, same - BEFORE)
    return _cut(before, start), _cut(after, start)


def shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def _cut(text: str, start: int) -> str:
    part = text[start : start + WIDTH]
    return ("..." if start else "") + json.dumps(part) + ("..." if start + WIDTH < len(text) else "")


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)
