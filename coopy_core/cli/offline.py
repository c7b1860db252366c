"""Engine commands given while no engine runs: checked against the store now, written to it for the next start.

The command is recorded in the store (`Store.add_pending_command`) under the engine lock, so no engine starts
while it is written; the next start carries it out with the live engine's own code (`EngineCommands.carry_out`)
once every run is back in its place, and empties the list in the same transaction: it happens once.
"""

from __future__ import annotations

import argparse
from typing import Any

from coopy_core.cli.common import EXIT_OK
from coopy_core.config import Config
from coopy_core.errors import CoopyError
from coopy_core.model import RunState
from coopy_core.state.store import DB_NAME, EngineLock, Store

RETRIED = (RunState.FAILED.value, RunState.CANCELLED.value)


def failed_runs(config: Config, stage: str | None) -> list[str]:
    """`stage/run` of every failed or cancelled run in the store (of `stage`, or of every stage)."""
    if stage is not None and stage not in config.stage_names:
        raise CoopyError(f"{config.path}: no stage named {stage!r} (stages: {', '.join(config.stage_names)})")
    if not (config.state_dir / DB_NAME).exists():
        return []
    store = Store(config.state_dir, readonly=True)
    try:
        runs = store.runs()
    finally:
        store.close()
    return [
        f"{r.stage}/{r.name}"
        for r in runs
        if r.state.value in RETRIED and r.stage in config.stage_names and (stage is None or r.stage == stage)
    ]


def queue_for_next_start(config: Config, name: str, kwargs: dict[str, Any]) -> None:
    """Record an engine command for the next start (refused in one line while an engine holds the state dir)."""
    lock = EngineLock(config.state_dir)
    lock.acquire()
    try:
        store = Store(config.state_dir)
        try:
            store.add_pending_command(name, kwargs)
        finally:
            store.close()
    finally:
        lock.release()


def retry_failed(config: Config, stage: str | None) -> int:
    """Mark the failed and cancelled runs (of a stage) to run again at the next start; returns how many."""
    runs = failed_runs(config, stage)
    if runs:
        queue_for_next_start(config, "retry_failed", {"stage": stage})
    return len(runs)


def retry_failed_verb(config: Config, args: argparse.Namespace) -> int:
    """`coopy retry-failed` with no engine running."""
    n = retry_failed(config, args.stage)
    where = f" of stage {args.stage}" if args.stage else ""
    if not n:
        print(f"no failed or cancelled runs{where}: nothing to retry")
        return EXIT_OK
    print(
        f"{n} failed or cancelled run(s){where} marked to run again: no engine is running, the next start "
        f"(`coopy run {args.config}`) runs them"
    )
    return EXIT_OK
