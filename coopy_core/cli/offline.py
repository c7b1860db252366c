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
from coopy_core.model import Run, RunState
from coopy_core.state.store import DB_NAME, EngineLock, Store

RETRIED = (RunState.FAILED.value, RunState.CANCELLED.value)


def stored_runs(config: Config, stage: str | None) -> list[Run]:
    """The runs in the store (of `stage`, which the config must have; of every stage of the config)."""
    if stage is not None and stage not in config.stage_names:
        raise CoopyError(f"{config.path}: no stage named {stage!r} (stages: {', '.join(config.stage_names)})")
    if not (config.state_dir / DB_NAME).exists():
        return []
    store = Store(config.state_dir, readonly=True)
    try:
        runs = store.runs()
    finally:
        store.close()
    return [r for r in runs if r.stage in config.stage_names and (stage is None or r.stage == stage)]


def failed_runs(config: Config, stage: str | None) -> list[str]:
    """`stage/run` of every failed or cancelled run in the store (of `stage`, or of every stage)."""
    return [f"{r.stage}/{r.name}" for r in stored_runs(config, stage) if r.state.value in RETRIED]


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


def rerun_verb(config: Config, args: argparse.Namespace) -> int:
    """`coopy rerun` with no engine running: checked against the store, carried out by the next start."""
    runs = [r for r in stored_runs(config, args.stage) if args.task is None or r.name == args.task]
    ended = [r for r in runs if r.state.passed or r.state.value in RETRIED]
    what = f"{args.stage}/{args.task}" if args.task else f"stage {args.stage}"
    if args.task is not None and not runs and not config.graph().exists((args.stage, args.task)):
        raise CoopyError(f"{args.config}: stage {args.stage!r} has no run named {args.task!r}")
    if args.task is not None and not ended:
        state = runs[0].state.value if runs else "not run yet"
        raise CoopyError(
            f"{args.config}: {what} is {state}; only a run that ended (done, skipped, failed, cancelled) can be "
            "run again"
        )
    if not ended:
        print(f"{what}: no run of it ended yet: nothing to run again")
        return EXIT_OK
    queue_for_next_start(config, "rerun", {"stage": args.stage, "task": args.task, "downstream": args.downstream})
    print(
        f"{what}: {len(ended)} run(s) marked to run again, and what consumes them: no engine is running, the next "
        f"start (`coopy run {args.config}`) runs them"
    )
    return EXIT_OK
