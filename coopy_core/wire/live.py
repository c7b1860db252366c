"""`coopy status` live from the running engine of a config (fresher than the store), over its control socket."""

from __future__ import annotations

import contextlib
from typing import Any

from coopy_core.config import Config
from coopy_core.report.status import add_members, open_store, pipeline_graph
from coopy_core.wire.remote import EngineUnavailable, RemoteCommandError, connect


def live_status(config: Config, summary: bool = False, summary_only: bool = False) -> dict[str, Any] | None:
    """The same JSON from the running engine's own view, when one serves this config (fresher than the
    store); None when no engine answers. `summary`: only the runs the engine names one by one (running,
    blocked, failed, cancelled; `Engine.summary`), which is all the human form shows. `summary_only`: None
    as well from an engine of an older CooPy that has no summary (the caller has not expanded the file's
    configurations, which the whole snapshot's group runs need)."""
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
        if brief is None and summary_only:
            return None
        if brief is not None:
            return _with_config_workers(
                config,
                {
                    "pipeline": brief["pipeline"],
                    "config": str(config.path),
                    "state_dir": str(config.state_dir),
                    "engine_pid": pid,
                    "live": True,
                    "tasks": brief["tasks"],
                    "stages": brief["stages"],
                    "runs": brief["runs"],
                },
            )
        snap = client.snapshot().as_json()
    except EngineUnavailable:
        return None
    finally:
        client.close()
    store = open_store(config)
    try:
        graph = pipeline_graph(config, store)
    finally:
        if store is not None:
            store.close()
    add_members(snap["runs"], graph)
    return _with_config_workers(
        config,
        {
            "pipeline": snap["pipeline"],
            "config": str(config.path),
            "state_dir": str(config.state_dir),
            "engine_pid": pid,
            "live": True,
            "tasks": len(snap["tasks"]),
            "stages": snap["stages"],
            "runs": snap["runs"],
        },
    )


def _with_config_workers(config: Config, status: dict[str, Any]) -> dict[str, Any]:
    """Each stage's cap as the config file says it now, beside the engine's (set at run time: they differ)."""
    caps = {stage.name: stage.workers for stage in config.stages}
    for stage in status["stages"]:
        stage["config_workers"] = caps.get(stage["name"], stage["workers"])
    return status
