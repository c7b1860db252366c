"""`coopy status` read from the state store, when no engine runs (wire/live.py asks the running one).

It imports nothing of the engine or the socket (only config, graph, store, model, metrics), so the engine's `results`
command and the reports can read it. Reading the store starts nothing and takes no lock. Stable JSON keys:
`stages[].{name, workers, paused, counts, total, needs, over}` and `runs[].{task, stage, attempt, state,
exit_code, priority, log, reason, started_at, ended_at, pid, job_id, metrics}`, plus `members` for the runs of
a stage over fewer params, and `pending` (from the store): the commands given with no engine running, which the
next start carries out.
"""

from __future__ import annotations

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


def open_store(config: Config) -> Store | None:
    """The config's store opened read-only, or None when it has none yet."""
    return Store(config.state_dir, readonly=True) if (config.state_dir / DB_NAME).exists() else None


def read_status(config: Config) -> dict[str, Any]:
    """The JSON `coopy status --json` prints when no engine runs."""
    stage_rows = {}
    runs: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    store = open_store(config)
    try:
        graph = pipeline_graph(config, store)
        if store is not None:
            stage_rows = store.stages()
            pending = store.pending_commands()  # given with no engine running: the next start carries them out
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
        stored = stage_rows.get(stage.name)
        row = stored.against(stage.workers) if stored else None  # what the next start takes
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
                "config_workers": stage.workers,
                "paused": row.paused if row else False,
                "counts": counts,
                "total": total,
                "needs": list(needs),
                "over": list(stage.over) if stage.over is not None else None,
            }
        )
    add_members(runs, graph)
    engine_pid = EngineLock.holder(config.state_dir) if config.state_dir.exists() else None
    return {
        "pipeline": config.pipeline.name,
        "config": str(config.path),
        "state_dir": str(config.state_dir),
        "engine_pid": engine_pid,
        "tasks": len(graph.tasks),
        "stages": stages,
        "runs": runs,
        "pending": pending,
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


def add_members(runs: list[dict[str, Any]], graph: Graph) -> None:
    """The configurations of each group run (a stage over fewer params), as `members`."""
    for run in runs:
        if graph.is_group(run["stage"]) and graph.exists((run["stage"], run["task"])):
            run["members"] = graph.members((run["stage"], run["task"]))


def kept_settings(config: Config) -> list[str]:
    """What the next start keeps from run time over the config (a worker cap, a pause), one line each: said by
    `coopy run` so a cap set with `coopy workers` never outlives the config silently."""
    store = open_store(config)
    if store is None:
        return []
    try:
        rows = store.stages()
    finally:
        store.close()
    lines = []
    for stage in config.stages:
        stored = rows.get(stage.name)
        if stored is None:
            continue
        row = stored.against(stage.workers)
        if row.workers != stage.workers:
            lines.append(
                f"{stage.name}: workers {row.workers}, set at run time, kept (the config says {stage.workers}; "
                "edit it there to change the cap)"
            )
        if row.paused:
            lines.append(f"{stage.name}: paused at run time, kept (`coopy resume {config.path} {stage.name}`)")
    return lines
