"""Read-only view of a pipeline's state store, for `coopy status`: starts nothing, takes no lock."""

from __future__ import annotations

from typing import Any

from coopy_core.config import Config
from coopy_core.model import COUNTED_STATES
from coopy_core.store import DB_NAME, EngineLock, Store


def read_status(config: Config) -> dict[str, Any]:
    """The JSON `coopy status --json` prints; stable keys: stages[].{name,workers,paused,counts}, runs[]."""
    stage_rows = {}
    runs: list[dict[str, Any]] = []
    db = config.state_dir / DB_NAME
    if db.exists():
        store = Store(config.state_dir, readonly=True)
        try:
            stage_rows = store.stages()
            names = set(config.stage_names)
            for r in store.runs():
                if r.stage not in names:
                    continue
                runs.append(
                    {
                        "task": r.task,
                        "stage": r.stage,
                        "attempt": r.attempt,
                        "state": r.state,
                        "exit_code": r.exit_code,
                        "priority": r.priority,
                        "log": r.log,
                        "reason": r.reason,
                        "started_at": r.started_at,
                        "ended_at": r.ended_at,
                        "pid": (r.handle or {}).get("pid"),
                    }
                )
        finally:
            store.close()
    index = {name: i for i, name in enumerate(config.stage_names)}
    runs.sort(key=lambda r: (index[r["stage"]],))
    stages = []
    for stage in config.stages:
        row = stage_rows.get(stage.name)
        counts = {s.value: 0 for s in COUNTED_STATES}
        for run in runs:
            if run["stage"] == stage.name:
                counts[run["state"]] = counts.get(run["state"], 0) + 1
        stages.append(
            {
                "name": stage.name,
                "workers": row.workers if row else stage.workers,
                "paused": row.paused if row else False,
                "counts": counts,
            }
        )
    engine_pid = EngineLock.holder(config.state_dir) if config.state_dir.exists() else None
    return {
        "pipeline": config.pipeline.name,
        "config": str(config.path),
        "state_dir": str(config.state_dir),
        "engine_pid": engine_pid,
        "tasks": len(config.tasks),
        "stages": stages,
        "runs": runs,
    }


def live_status(config: Config) -> dict[str, Any] | None:
    """The same JSON from the running engine's own view, when one serves this config (fresher than the
    store); None when no engine answers."""
    from coopy_core.daemon import connect
    from coopy_core.remote import EngineUnavailable

    try:
        client = connect(config)
    except EngineUnavailable:
        return None
    try:
        snap = client.snapshot().as_json()
        pid = client.info.get("pid")
    except EngineUnavailable:
        return None
    finally:
        client.close()
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
