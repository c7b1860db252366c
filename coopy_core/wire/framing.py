"""JSON form of the engine's views, for the control socket: one object per line, both ways."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
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


RUN_FIELDS = tuple(f.name for f in dataclasses.fields(RunView))
_STATE_AT = RUN_FIELDS.index("state")
_STATES = {state.value: state for state in RunState}  # a dict lookup: RunState(value) costs 2 µs a run


def run_view(d: dict[str, Any]) -> RunView:
    return RunView(**{**d, "state": RunState(d["state"])})


ROWS_PER_PIECE = 1000


def snapshot_rows_reply(rid: Any, head: Snapshot, rows: Iterator[tuple[Any, ...]]) -> Iterator[bytes]:
    """The reply to `snapshot` with rows, as pieces of its one line: the runs as rows under one list of field
    names (100,000 runs are ~9 MB instead of ~28 MB of repeated keys), encoded a thousand at a time as the
    engine makes them, so that neither a view object per run nor a whole copy of the line is held."""
    result = {
        "seq": head.seq,
        "pipeline": head.pipeline,
        "tasks": head.tasks,
        "stages": head.stages,
        "run_fields": RUN_FIELDS,
        "finished": head.finished,
        "pools": head.pools,
    }
    line = dumps({"id": rid, "ok": True, "result": result})
    yield line[: -len(b"}}\n")] + b',"runs":['
    sep = b""
    while chunk := list(itertools.islice(rows, ROWS_PER_PIECE)):
        yield sep + json.dumps(chunk, separators=(",", ":"), default=_default)[1:-1].encode()
        sep = b","
    yield b"]}}\n"


def _run_views(d: dict[str, Any]) -> tuple[RunView, ...]:
    fields = d.get("run_fields")
    if fields is None:  # an object per run (`snapshot` without rows, or an engine of an older CooPy)
        return tuple(run_view(r) for r in d["runs"])
    if tuple(fields) == RUN_FIELDS:
        views = []
        for row in d["runs"]:
            row[_STATE_AT] = _STATES.get(row[_STATE_AT]) or RunState(row[_STATE_AT])
            views.append(RunView(*row))
        return tuple(views)
    known = set(RUN_FIELDS)  # another CooPy's fields: by name, what this one knows
    return tuple(run_view({k: v for k, v in zip(fields, row, strict=True) if k in known}) for row in d["runs"])


def stage_view(d: dict[str, Any]) -> StageView:
    return StageView(**d)


def snapshot(d: dict[str, Any]) -> Snapshot:
    return Snapshot(
        seq=d["seq"],
        pipeline=d["pipeline"],
        tasks=tuple(d["tasks"]),
        stages=tuple(stage_view(s) for s in d["stages"]),
        runs=_run_views(d),
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
