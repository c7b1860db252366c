"""`coopy status`: the pipeline's state, live from its engine when one runs, else from the state store.

Reading the store starts nothing and takes no lock. Stable JSON keys: `stages[].{name, workers, paused,
counts, total, needs, over}` and `runs[].{task, stage, attempt, state, exit_code, priority, log, reason,
started_at, ended_at, pid, job_id, metrics}`, plus `members` for the runs of a stage over fewer params.
"""

from __future__ import annotations

import contextlib
from typing import Any

from coopy_core.config import Config
from coopy_core.graph import Graph
from coopy_core.lifecycle.metrics import last_values
from coopy_core.model import COUNTED_STATES, RunState
from coopy_core.state.store import DB_NAME, EngineLock, Store
from coopy_core.tasks import Task


def pipeline_graph(config: Config, store: Store | None) -> Graph:
    """The config's graph, with the configurations added at run time (`coopy add`) that still fit."""
    graph = config.graph()
    if store is not None:
        for name, params, added in store.tasks():
            if added and name not in graph.tasks:
                try:
                    graph.add_task(Task(name, params))
                except ValueError:
                    continue
    return graph


def _open(config: Config) -> Store | None:
    return Store(config.state_dir, readonly=True) if (config.state_dir / DB_NAME).exists() else None


def read_status(config: Config) -> dict[str, Any]:
    """The JSON `coopy status --json` prints when no engine runs."""
    stage_rows = {}
    runs: list[dict[str, Any]] = []
    store = _open(config)
    try:
        graph = pipeline_graph(config, store)
        if store is not None:
            stage_rows = store.stages()
            reported = last_values(store.metric_values())
            for r in store.runs():
                if r.stage not in graph.nodes:
                    continue
                removed = not graph.exists(r.key)  # its configuration is no longer in the config: kept, not run
                runs.append(
                    {
                        "task": r.name,
                        "stage": r.stage,
                        "attempt": r.attempt,
                        "state": RunState.REMOVED.value if removed else r.state.value,
                        "exit_code": r.exit_code,
                        "priority": r.priority,
                        "log": r.log,
                        "reason": r.reason,
                        "started_at": r.started_at,
                        "ended_at": r.ended_at,
                        "pid": (r.handle or {}).get("pid"),
                        **({"was": r.state.value} if removed else {}),
                        "metrics": reported.get(r.key, (0, {}))[1],  # as the live view's RunView.metrics
                        "job_id": (r.handle or {}).get("job_id"),
                    }
                )
    finally:
        if store is not None:
            store.close()
    listed = {(r["stage"], r["task"]) for r in runs}
    for stage_name in graph.stage_names:  # a group's run is listed while it waits, as the engine shows it
        if graph.is_group(stage_name):
            for name in graph.runs(stage_name):
                if (stage_name, name) not in listed:
                    runs.append(_waiting(stage_name, name))
    index = {name: i for i, name in enumerate(config.stage_names)}
    runs.sort(key=lambda r: index[r["stage"]])
    stages = []
    for stage, needs in zip(config.stages, config.needs, strict=True):
        row = stage_rows.get(stage.name)
        counts = {s.value: 0 for s in COUNTED_STATES}
        for run in runs:
            if run["stage"] == stage.name and run["state"] not in (RunState.WAITING.value, RunState.REMOVED.value):
                counts[run["state"]] = counts.get(run["state"], 0) + 1
        total = graph.run_count(stage.name)
        counts[RunState.WAITING.value] = max(0, total - sum(counts.values()))
        stages.append(
            {
                "name": stage.name,
                "workers": row.workers if row else stage.workers,
                "paused": row.paused if row else False,
                "counts": counts,
                "total": total,
                "needs": list(needs),
                "over": list(stage.over) if stage.over is not None else None,
            }
        )
    _add_members(runs, graph)
    engine_pid = EngineLock.holder(config.state_dir) if config.state_dir.exists() else None
    return {
        "pipeline": config.pipeline.name,
        "config": str(config.path),
        "state_dir": str(config.state_dir),
        "engine_pid": engine_pid,
        "tasks": len(graph.tasks),
        "stages": stages,
        "runs": runs,
    }


def _waiting(stage: str, name: str) -> dict[str, Any]:
    return {
        "task": name,
        "stage": stage,
        "attempt": 0,
        "state": RunState.WAITING.value,
        "exit_code": None,
        "priority": 0,
        "log": "",
        "reason": "",
        "started_at": None,
        "ended_at": None,
        "pid": None,
        "metrics": {},
        "job_id": None,
    }


def _add_members(runs: list[dict[str, Any]], graph: Graph) -> None:
    for run in runs:
        if graph.is_group(run["stage"]) and graph.exists((run["stage"], run["task"])):
            run["members"] = graph.members((run["stage"], run["task"]))


def live_status(config: Config, summary: bool = False) -> dict[str, Any] | None:
    """The same JSON from the running engine's own view, when one serves this config (fresher than the
    store); None when no engine answers. `summary`: only the runs the engine names one by one (running,
    blocked, failed, cancelled; `Engine.summary`), which is all the human form shows."""
    from coopy_core.wire.daemon import connect
    from coopy_core.wire.remote import EngineUnavailable, RemoteCommandError

    try:
        client = connect(config)
    except EngineUnavailable:
        return None
    try:
        pid = client.info.get("pid")
        brief = None
        if summary:
            with contextlib.suppress(RemoteCommandError):  # an engine of an older CooPy: the whole snapshot
                brief = client.summary()
        if brief is not None:
            return {
                "pipeline": brief["pipeline"],
                "config": str(config.path),
                "state_dir": str(config.state_dir),
                "engine_pid": pid,
                "live": True,
                "tasks": brief["tasks"],
                "stages": brief["stages"],
                "runs": brief["runs"],
            }
        snap = client.snapshot().as_json()
    except EngineUnavailable:
        return None
    finally:
        client.close()
    store = _open(config)
    try:
        graph = pipeline_graph(config, store)
    finally:
        if store is not None:
            store.close()
    _add_members(snap["runs"], graph)
    return {
        "pipeline": snap["pipeline"],
        "config": str(config.path),
        "state_dir": str(config.state_dir),
        "engine_pid": pid,
        "live": True,
        "tasks": len(snap["tasks"]),
        "stages": snap["stages"],
        "runs": snap["runs"],
    }
