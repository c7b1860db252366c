"""`coopy log` and `coopy wait` (as pueue's `log` / `follow` / `wait`): read the state store, never the engine, so
they work alike with a background engine, a `coopy run` in another terminal, or none at all. The store is read
afresh at every look (SQLite WAL: a reader sees each commit, one per engine turn)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from coopy_core.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from coopy_core.config import Config
from coopy_core.errors import CoopyError
from coopy_core.loader import load_target
from coopy_core.model import Run, RunState
from coopy_core.state.store import DB_NAME, EngineLock, Store

POLL = 0.2  # seconds between two looks at the log and the store
WAIT_POLL = 0.5  # `coopy wait` reads the whole status: a little less often
CHUNK = 1 << 16


def _stored(config: Config) -> list[Run]:
    if not (config.state_dir / DB_NAME).exists():
        return []
    store = Store(config.state_dir, readonly=True)
    try:
        return store.runs()
    finally:
        store.close()


def _attempt_logs(config: Config, stage: str, task: str) -> dict[int, str]:
    store = Store(config.state_dir, readonly=True)
    try:
        return {row[2]: row[8] for row in store.attempts_of(stage, task)}
    finally:
        store.close()


def _find(config: Config, text: str, stage: str | None) -> tuple[str, str]:
    """`stage/task` (as `coopy status` prints it), or a task with --stage, or a task only one stage has run."""
    if "/" in text:
        stage, _, text = text.partition("/")
    if stage is not None:
        if stage not in config.stage_names:
            raise CoopyError(f"{config.path}: no stage named {stage!r} (stages: {', '.join(config.stage_names)})")
        return stage, text
    stages = [r.stage for r in _stored(config) if r.name == text and r.attempt > 0]
    if len(stages) == 1:
        return stages[0], text
    if not stages:
        raise CoopyError(f"{config.path}: no run named {text!r} has started (give it as STAGE/TASK)")
    raise CoopyError(f"{config.path}: {text!r} ran in stages {', '.join(stages)}: name one (STAGE/TASK or --stage)")


def _run(config: Config, stage: str, task: str) -> Run | None:
    return next((r for r in _stored(config) if r.stage == stage and r.name == task), None)


def log(args: argparse.Namespace) -> int:
    config = load_target(args.config)
    stage, task = _find(config, args.run, args.stage)
    run = _run(config, stage, task)
    while args.follow and args.attempt is None and (run is None or run.attempt < 1):  # follow it once it starts
        if EngineLock.holder(config.state_dir) is None:
            break
        time.sleep(POLL)
        run = _run(config, stage, task)
    attempt = args.attempt if args.attempt is not None else (run.attempt if run else 0)
    if attempt < 1 or run is None or attempt > run.attempt:
        state = run.state.value if run else RunState.WAITING.value
        print(
            f"coopy: {stage}/{task} has no attempt {attempt or ''} yet (it is {state})".replace("  ", " "),
            file=sys.stderr,
        )
        return EXIT_FAILED
    path = Path(
        run.log
        if attempt == run.attempt and run.log
        else _attempt_logs(config, stage, task).get(attempt) or config.log_dir / stage / f"{task}.{attempt}.log"
    )
    if not path.exists():
        print(f"coopy: {stage}/{task} attempt {attempt}: its log {path} is gone", file=sys.stderr)
        return EXIT_FAILED
    with open(path, "rb") as f:
        _copy(f)
        if not args.follow:
            return EXIT_OK
        while _running(config, stage, task, attempt):
            if not _copy(f):
                time.sleep(POLL)
        _copy(f)
    return EXIT_OK


def _copy(f: Any) -> int:
    """Write what the log has beyond where we are; returns how many bytes."""
    total = 0
    while chunk := f.read(CHUNK):
        sys.stdout.buffer.write(chunk)
        total += len(chunk)
    sys.stdout.buffer.flush()
    return total


def _running(config: Config, stage: str, task: str, attempt: int) -> bool:
    """The attempt goes on: it is running in the store and an engine watches it (none: its end is not recorded
    until one starts, so following stops and says so)."""
    run = _run(config, stage, task)
    if run is None or run.attempt != attempt or run.state != RunState.RUNNING:
        return False
    if EngineLock.holder(config.state_dir) is None:
        print(f"coopy: no engine is running: the end of {stage}/{task} is recorded when one starts", file=sys.stderr)
        return False
    return True


# ---------------------------------------------------------------------------------------------- wait
OPEN_STATES = ("queued", "running", "waiting")


def wait(args: argparse.Namespace) -> int:
    from coopy_core.report.status import read_status

    config = load_target(args.config)
    target = args.target
    if target is not None and "/" not in target and target not in config.stage_names:
        raise CoopyError(
            f"{args.config}: {target!r} is neither a stage ({', '.join(config.stage_names)}) nor a run (STAGE/TASK)"
        )
    if target is not None and "/" in target:
        stage, _, task = target.partition("/")
        known = stage in config.stage_names and config.graph().exists((stage, task))
        if not known and not any(r.stage == stage and r.name == task for r in _stored(config)):
            raise CoopyError(f"{args.config}: no run {target!r}")
    while True:
        states = _states(read_status(config), target)
        left = sum(states.get(s, 0) for s in OPEN_STATES)
        if not left:
            failed = sum(n for s, n in states.items() if s in ("failed", "cancelled", "blocked"))
            what = target or "the pipeline"
            print(f"{what}: {'some failed' if failed else 'all done'}: " + _counts(states))
            return EXIT_FAILED if failed else EXIT_OK
        if EngineLock.holder(config.state_dir) is None:
            print(
                f"coopy: {args.config}: no engine is running, so {left} run(s) would wait for ever; start one with "
                f"`coopy run --detach {args.config}`",
                file=sys.stderr,
            )
            return EXIT_USAGE
        time.sleep(WAIT_POLL)


def _states(status: dict[str, Any], target: str | None) -> dict[str, int]:
    """How many runs of the target (the pipeline, a stage, or one run: STAGE/TASK) are in each state."""
    if target is not None and "/" in target:
        stage, _, task = target.partition("/")
        run = next((r for r in status["runs"] if r["stage"] == stage and r["task"] == task), None)
        return {run["state"] if run else RunState.WAITING.value: 1}
    out: dict[str, int] = {}
    for s in status["stages"]:
        if target is None or s["name"] == target:
            for state, n in s["counts"].items():
                out[state] = out.get(state, 0) + n
    return out


def _counts(states: dict[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in states.items() if n) or "no runs"
