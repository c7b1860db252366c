"""What `Pipeline.run()` and `Pipeline.status()` return: every run of the pipeline with its state and
its attempts (exit code, duration, reason, log), read from the running engine or the state store.

Plain frozen data, so it can be kept, compared and printed after the engine is gone.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coopy_core.config import Config
from coopy_core.model import ENDED_STATES, RunState
from coopy_core.state.store import DB_NAME, Store

if TYPE_CHECKING:
    from coopy_core.graph import Graph
    from coopy_core.report.results import Table


@dataclass(frozen=True)
class AttemptResult:
    """One execution of a run."""

    number: int  # from 1
    state: RunState  # how it ended (running: the attempt under way)
    exit_code: int | None
    reason: str
    started_at: float | None
    ended_at: float | None
    log: str

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None while it runs or when it never started)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class RunResult:
    """One run: a stage's run for a configuration, or for a group of them (`members`)."""

    stage: str
    task: str
    state: RunState
    attempts: tuple[AttemptResult, ...]
    exit_code: int | None  # of the last attempt
    reason: str
    log: str  # of the last attempt
    started_at: float | None
    ended_at: float | None
    members: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)  # the last value of each metric it reported

    @property
    def passed(self) -> bool:
        """Done, or skipped because its outputs were there."""
        return self.state.passed

    @property
    def duration(self) -> float | None:
        """Seconds the last attempt took (None while it runs or when it never started)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class StageResult:
    name: str
    workers: int
    paused: bool
    counts: dict[str, int]  # per state
    total: int  # its runs


@dataclass(frozen=True)
class Results:
    """Every run of a pipeline; iterate over it, or look one up with `results.run(stage, task)`."""

    pipeline: str
    stages: tuple[StageResult, ...]
    runs: tuple[RunResult, ...]
    engine_pid: int | None = None  # the engine serving it when this was read (None: none)
    table: Table | None = field(default=None, repr=False, compare=False)  # `coopy results`' rows

    def to_records(self) -> list[dict[str, Any]]:
        """A dict per configuration, `coopy results --format csv`'s columns: `task`, each param, `<stage>.state`
        for every stage, and each metric (the last value; a name two stages report: the later stage's)."""
        if self.table is None:
            return []
        stages, metrics = self.table.stages, self.table.metrics
        return [
            {
                "task": row.task,
                **{p: row.params.get(p) for p in self.table.params},
                **{f"{s}.state": row.states.get(s) for s in stages},
                **{m: row.metrics.get(m) for m in metrics},
            }
            for row in self.table.rows
        ]

    def to_pandas(self) -> Any:
        """`to_records()` as a pandas DataFrame (pandas is not a dependency of CooPy: install it yourself)."""
        try:
            pandas = importlib.import_module("pandas")
        except ImportError:
            raise ImportError("Results.to_pandas() needs pandas: pip install pandas") from None
        return pandas.DataFrame.from_records(self.to_records())

    def __iter__(self) -> Iterator[RunResult]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def run(self, stage: str, task: str) -> RunResult:
        for r in self.runs:
            if r.stage == stage and r.task == task:
                return r
        stages = [s.name for s in self.stages]
        if stage not in stages:
            raise KeyError(f"no stage named {stage!r} (stages: {', '.join(stages)})")
        raise KeyError(f"stage {stage!r} has no run named {task!r}")

    def of_stage(self, stage: str) -> list[RunResult]:
        return [r for r in self.runs if r.stage == stage]

    @property
    def passed(self) -> bool:
        """Every run done or skipped."""
        return all(r.passed for r in self.runs)

    @property
    def finished(self) -> bool:
        """Nothing waiting, queued or running: every run passed or stopped for good."""
        return all(r.state in ENDED_STATES for r in self.runs)

    @property
    def failed(self) -> list[RunResult]:
        """The runs that failed, were cancelled, or are blocked by one that did."""
        return [r for r in self.runs if r.state in (RunState.FAILED, RunState.CANCELLED, RunState.BLOCKED)]

    def summary(self) -> str:
        """A line per stage: `train: done 5, failed 1 (of 6)`."""
        lines = []
        for s in self.stages:
            counts = ", ".join(f"{state} {n}" for state, n in s.counts.items() if n)
            lines.append(f"{s.name}: {counts or 'nothing yet'} (of {s.total})")
        return "\n".join(lines)


def collect(config: Config) -> Results:
    """Results of `config` now: live from its engine when one answers, else from the state store."""
    from coopy_core.report.status import read_status
    from coopy_core.wire.live import live_status

    status = live_status(config) or read_status(config)
    history = _attempts(config)
    graph = _graph(config)
    runs = []
    for r in status["runs"]:
        key = (r["stage"], r["task"])
        state = RunState(r["state"])
        attempts = [a for a in history.get(key, []) if a.number <= r["attempt"]]
        if state == RunState.RUNNING and not any(a.number == r["attempt"] for a in attempts):
            attempts.append(AttemptResult(r["attempt"], RunState.RUNNING, None, "", r["started_at"], None, r["log"]))
        runs.append(
            RunResult(
                stage=r["stage"],
                task=r["task"],
                state=state,
                attempts=tuple(attempts),
                exit_code=r["exit_code"],
                reason=r["reason"],
                log=r["log"],
                started_at=r["started_at"],
                ended_at=r["ended_at"] if state != RunState.RUNNING else None,
                members=tuple(r.get("members", ())),
                metrics=dict(r.get("metrics") or {}),
            )
        )
    listed = {(r.stage, r.task) for r in runs}
    runs += [_waiting(config, key) for key in graph.all_runs() if key not in listed]
    order = {name: i for i, name in enumerate(config.stage_names)}
    runs.sort(key=lambda r: order[r.stage])
    stages = tuple(
        StageResult(s["name"], s["workers"], s["paused"], dict(s["counts"]), s.get("total", 0))
        for s in status["stages"]
    )
    return Results(status["pipeline"], stages, tuple(runs), status.get("engine_pid"), _table(config, graph, runs))


def _graph(config: Config) -> Graph:
    from coopy_core.report.status import pipeline_graph

    store = _open(config)
    try:
        return pipeline_graph(config, store)
    finally:
        if store is not None:
            store.close()


def _table(config: Config, graph: Graph, runs: list[RunResult]) -> Table:
    """`coopy results`' rows (one per configuration) from the same runs, so both say the same."""
    from coopy_core.report.results import build

    states = {(r.stage, r.task): r.state for r in runs}
    metrics = {(r.stage, r.task): r.metrics for r in runs if r.metrics}
    return build(graph, config.stage_names, states, metrics)


def _waiting(config: Config, key: tuple[str, str]) -> RunResult:
    return RunResult(key[0], key[1], RunState.WAITING, (), None, "", "", None, None)


def _open(config: Config) -> Store | None:
    return Store(config.state_dir, readonly=True) if (config.state_dir / DB_NAME).exists() else None


def _attempts(config: Config) -> dict[tuple[str, str], list[AttemptResult]]:
    store = _open(config)
    if store is None:
        return {}
    out: dict[tuple[str, str], list[AttemptResult]] = {}
    try:
        rows: list[tuple[Any, ...]] = store.attempts()
    finally:
        store.close()
    for task, stage, number, state, exit_code, reason, started_at, ended_at, log in rows:
        try:
            ended = RunState(state)
        except ValueError:
            continue
        out.setdefault((stage, task), []).append(
            AttemptResult(number, ended, exit_code, reason, started_at, ended_at, log)
        )
    return out
