"""`coopy export`: one row per configuration — its params, and per stage state, attempts, duration, exit code."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from coopy_core.config import Config
from coopy_core.graph import group_name
from coopy_core.model import Run, RunState
from coopy_core.report.status import pipeline_graph
from coopy_core.state.store import DB_NAME, Store

STAGE_COLUMNS = ("state", "attempts", "duration_s", "exit_code")


def rows(config: Config) -> list[dict[str, Any]]:
    """Per configuration and stage, the run that covers it (for a stage over fewer params, its group's)."""
    runs: dict[tuple[str, str], Run] = {}
    retired: list[tuple[str, dict[str, Any]]] = []
    store = Store(config.state_dir, readonly=True) if (config.state_dir / DB_NAME).exists() else None
    try:
        graph = pipeline_graph(config, store)
        if store is not None:
            runs = {r.key: r for r in store.runs()}
            retired = [(n, p) for n, p, _added in store.tasks() if n not in graph.tasks]
    finally:
        if store is not None:
            store.close()
    out = []
    listed = [(name, task.params, False) for name, task in graph.tasks.items()]
    listed += [(name, params, True) for name, params in retired]  # no longer in the config: kept, not run
    for name, params, removed in listed:
        stages: dict[str, dict[str, Any]] = {}
        for stage in config.stage_names:
            if not graph.is_group(stage):
                key = (stage, name)
            elif removed:  # the group it was a member of: the run over the remaining members, or its own
                over = config.stage(stage).over or []
                key = (stage, group_name({p: params.get(p) for p in over}))
            else:
                key = graph.run_of(stage, name)
            r = runs.get(key)
            duration = None
            if r is not None and r.started_at is not None and r.ended_at is not None:
                duration = round(r.ended_at - r.started_at, 3)
            stages[stage] = {
                "state": r.state.value if r else (RunState.REMOVED if removed else RunState.WAITING).value,
                "attempts": r.attempt if r else 0,
                "duration_s": duration,
                "exit_code": r.exit_code if r else None,
                "reason": r.reason if r else "",
            }
        out.append({"task": name, "params": params, "removed": removed, "stages": stages})
    return out


def to_json(config: Config) -> str:
    return json.dumps(rows(config), indent=2)


def to_csv(config: Config) -> str:
    data = rows(config)
    param_keys: list[str] = []
    for row in data:
        param_keys += [k for k in row["params"] if k not in param_keys]
    header = ["task", *param_keys] + [f"{s}.{c}" for s in config.stage_names for c in STAGE_COLUMNS] + ["removed"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in data:
        values = [row["task"], *(row["params"].get(k, "") for k in param_keys)]
        for stage in config.stage_names:
            st = row["stages"][stage]
            values += ["" if st[c] is None else st[c] for c in STAGE_COLUMNS]
        writer.writerow([*values, "yes" if row["removed"] else ""])
    return buf.getvalue()
