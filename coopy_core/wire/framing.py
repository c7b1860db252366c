"""JSON form of the engine's views, for the control socket: one object per line, both ways."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from coopy_core.model import Event, EventKind, RunState, RunView, Snapshot, StageView


def dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=_default).encode() + b"\n"


def _default(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__}")


def run_view(d: dict[str, Any]) -> RunView:
    return RunView(**{**d, "state": RunState(d["state"])})


def stage_view(d: dict[str, Any]) -> StageView:
    return StageView(**d)


def snapshot(d: dict[str, Any]) -> Snapshot:
    return Snapshot(
        seq=d["seq"],
        pipeline=d["pipeline"],
        tasks=tuple(d["tasks"]),
        stages=tuple(stage_view(s) for s in d["stages"]),
        runs=tuple(run_view(r) for r in d["runs"]),
        finished=d["finished"],
        pools=d.get("pools") or {},
    )


def event(d: dict[str, Any]) -> Event:
    return Event(
        seq=d["seq"],
        kind=EventKind(d["kind"]),
        time=d["time"],
        run=run_view(d["run"]) if d.get("run") else None,
        stage=stage_view(d["stage"]) if d.get("stage") else None,
        task=d.get("task"),
        message=d.get("message", ""),
        level=d.get("level", "info"),
        data=d.get("data") or {},
    )
