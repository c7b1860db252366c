"""`coopy plan` and `coopy why`: what the next start would run and why, judged exactly as the engine judges
it (plan.judge), from the state store opened read-only. Starts nothing and writes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopy_core.config import Config
from coopy_core.graph import Progress, Readiness, RunKey
from coopy_core.lifecycle.plugins import make_plugins
from coopy_core.model import Run, RunState
from coopy_core.plan import judge as plan
from coopy_core.plan import targets
from coopy_core.plan.signature import FileHashes, Recipes, result_id
from coopy_core.report.status import pipeline_graph
from coopy_core.state.store import DB_NAME, Store
from coopy_core.tasks import Task

LISTED = 20  # runs named per reason in the text form; the JSON lists all


@dataclass
class Plan:
    will_run: dict[str, list[tuple[RunKey, str]]] = field(default_factory=dict)  # reason -> (run, why)
    blocked: list[tuple[RunKey, str]] = field(default_factory=list)  # would run, but wait on a failed run
    stays_failed: list[tuple[RunKey, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # configurations no longer in the config
    skipped: list[tuple[RunKey, str]] = field(default_factory=list)  # would be skipped: outputs there
    keys: set[RunKey] = field(default_factory=set)  # every run of the pipeline
    current: int = 0
    running: int = 0
    shown: str = ""  # how the pipeline is named in the text form

    @property
    def runs(self) -> int:
        """How many runs would run."""
        return sum(len(v) for v in self.will_run.values())

    def as_dict(self) -> dict[str, Any]:
        """`coopy plan --json`."""
        return plan_dict(self)

    def __str__(self) -> str:
        return plan_text(self, self.shown)


def make_plan(config: Config, shown: str = "") -> Plan:
    store = Store(config.state_dir, readonly=True) if (config.state_dir / DB_NAME).exists() else None
    try:
        graph = pipeline_graph(config, store)
        stored: dict[RunKey, Run] = {}
        known_tasks: list[str] = []
        hashes = FileHashes()
        if store is not None:
            stored = {r.key: r for r in store.runs() if r.stage in graph.nodes and graph.exists(r.key)}
            for key in store.passed_last(targets.left_in_place(stored.values())):  # as the engine's start does
                was = stored[key]  # read for this plan alone: changed in place
                was.state, was.reason = RunState.DONE, ""
            known_tasks = store.task_names()
            hashes = FileHashes(store.file_hashes())
    finally:
        if store is not None:
            store.close()
    scripters, _detectors = make_plugins(config)
    recipes = Recipes(config, scripters, hashes)
    readiness = Readiness(graph)
    readiness.load(targets.progress_of(stored.values()))

    def target(key: RunKey) -> Task:
        """As the engine makes it: a group's members, those that passed with allow_failed."""
        return targets.target(graph, readiness, key, config.stage(key[0]).allow_failed)

    def recipe_of(key: RunKey, upstream: list[tuple[str, str]]) -> Any:
        return recipes.make(key[0], target(key), graph.params(key), upstream)

    def outputs_of(key: RunKey) -> list[Path]:
        """As the engine renders them: the run's own params, its current attempt."""
        return targets.outputs_of(graph, scripters, stored, key)

    judged = plan.judge(graph, stored, recipe_of, outputs_of, config.base_dir)
    for key in judged.stale:
        readiness.set(key, Progress.OPEN)
    skips = _Skips(config, graph, stored, judged, scripters, target, recipe_of, outputs_of)
    out = Plan(shown=shown or config.pipeline.name)
    for key in graph.all_runs():
        out.keys.add(key)
        run = stored.get(key)
        if key in judged.running:
            category, why = judged.running[key]
            out.will_run.setdefault(category, []).append((key, f"{why} (after the attempt running now)"))
            continue
        if key in judged.stale:
            category, why = judged.stale[key]
        elif key in judged.failed:
            out.stays_failed.append((key, judged.failed[key] or "failed"))
            continue
        elif run is not None and run.state == RunState.RUNNING:
            out.running += 1
            continue
        elif run is not None and run.state.passed:
            out.current += 1
            continue
        elif run is None or run.attempt == 0 and run.state in (RunState.WAITING, RunState.QUEUED, RunState.BLOCKED):
            category, why = plan.NEW, "never ran"
        else:
            category, why = plan.UNFINISHED, f"left {run.state.value} when the engine stopped"
        if key in readiness.blocked:
            blocker = readiness.blocker(key)
            out.blocked.append((key, f"waits on {blocker[0]}/{blocker[1]}, which stays failed" if blocker else why))
            continue
        if skips.would_skip(key):
            out.skipped.append((key, "its outputs are there (skip_if_done)"))
            continue
        out.will_run.setdefault(category, []).append((key, why))
    out.removed = [name for name in known_tasks if name not in graph.tasks]
    return out


def plan_text(the_plan: Plan, shown: str) -> str:
    lines = [
        f"{shown}: {the_plan.runs} run(s) would run, {the_plan.current} current"
        + (f", {the_plan.running} running" if the_plan.running else "")
        + (f", {len(the_plan.blocked)} blocked" if the_plan.blocked else "")
    ]
    for category in plan.CATEGORIES:
        entries = the_plan.will_run.get(category, [])
        if entries:
            lines.append(f"  {category} ({len(entries)}):")
            lines += [f"    {k[0]}/{k[1]}: {why}" for k, why in entries[:LISTED]]
            if len(entries) > LISTED:
                lines.append(f"    ... and {len(entries) - LISTED} more")
    if the_plan.stays_failed:
        lines.append(
            f"  {plan.FAILED_BEFORE} ({len(the_plan.stays_failed)}): stay failed; "
            f"`coopy retry-failed {shown}` runs them again once the engine runs"
        )
        lines += [f"    {k[0]}/{k[1]}: {why}" for k, why in the_plan.stays_failed[:LISTED]]
    if the_plan.blocked:
        lines.append(f"  blocked ({len(the_plan.blocked)}):")
        lines += [f"    {k[0]}/{k[1]}: {why}" for k, why in the_plan.blocked[:LISTED]]
    if the_plan.skipped:
        lines.append(f"  would be skipped ({len(the_plan.skipped)}): their outputs are there (skip_if_done)")
        lines += [f"    {k[0]}/{k[1]}" for k, _why in the_plan.skipped[:LISTED]]
    if the_plan.removed:
        lines.append(f"  {plan.REMOVED} ({len(the_plan.removed)}): no longer in the config; not run, results kept")
        lines += [f"    {name}" for name in the_plan.removed[:LISTED]]
    return "\n".join(lines)


def plan_json(the_plan: Plan) -> str:
    return json.dumps(plan_dict(the_plan), indent=2)


def plan_dict(the_plan: Plan) -> dict[str, Any]:
    return {
        "would_run": {
            category: [{"stage": k[0], "task": k[1], "why": why} for k, why in entries]
            for category, entries in the_plan.will_run.items()
        },
        "counts": {category: len(entries) for category, entries in the_plan.will_run.items()},
        "current": the_plan.current,
        "running": the_plan.running,
        "blocked": [{"stage": k[0], "task": k[1], "why": why} for k, why in the_plan.blocked],
        "stays_failed": [{"stage": k[0], "task": k[1], "why": why} for k, why in the_plan.stays_failed],
        "removed": the_plan.removed,
        "skipped": [{"stage": k[0], "task": k[1], "why": why} for k, why in the_plan.skipped],
    }


def why(config: Config, stage: str, task: str) -> str:
    """One line: why this run would run at the next start, or why it would not."""
    the_plan = make_plan(config)
    key = (stage, task)
    for category, entries in the_plan.will_run.items():
        for k, text in entries:
            if k == key:
                return f"{stage}/{task} runs again: {text}" if category != plan.NEW else f"{stage}/{task}: never ran"
    for k, text in the_plan.blocked:
        if k == key:
            return f"{stage}/{task} is blocked: {text}"
    for k, text in the_plan.stays_failed:
        if k == key:
            return f"{stage}/{task} failed ({text}) and nothing it is made of changed: it stays failed"
    if task in the_plan.removed:
        return f"{task} is no longer in the config: it does not run (its results are kept)"
    if stage not in config.stage_names:
        raise KeyError(f"no stage named {stage!r} (stages: {', '.join(config.stage_names)})")
    if key not in the_plan.keys:
        raise KeyError(f"stage {stage!r} has no run named {task!r}")
    return f"{stage}/{task} is current: nothing that made it changed"


class _Skips:
    """Which runs the engine would skip at once (skip_if_done), judged as it judges them: only a run all of
    whose needs are current can be (the rest is decided when those have run)."""

    def __init__(
        self,
        config: Config,
        graph: Any,
        stored: dict[RunKey, Run],
        judged: plan.Judgement,
        scripters: dict[str, Any],
        target: Any,
        recipe_of: Any,
        outputs_of: Any,
    ) -> None:
        self.config, self.graph, self.stored, self.judged = config, graph, stored, judged
        self.scripters, self.target, self.recipe_of, self.outputs_of = scripters, target, recipe_of, outputs_of
        self.made: dict[str, str] = {}
        for key, run in stored.items():
            if run.state.passed and run.signature:
                for path in outputs_of(key):
                    self.made[str(path)] = run.signature
        self.own = targets.own_outputs(config, graph)

    def would_skip(self, key: RunKey) -> bool:
        stage = self.config.stage(key[0])
        if not stage.skip_if_done:
            return False
        upstream = []
        for need in self.graph.needed(key):
            done = self.stored.get(need)
            if done is None or not done.state.passed or need in self.judged.stale:
                return False  # what it needs runs first: the engine decides after that
            upstream.append((f"{need[0]}/{need[1]}", result_id(done.signature, done.attempt)))
        try:
            outputs = self.outputs_of(key)
            current = self.recipe_of(key, upstream)
            task = self.target(key)
            made_from = targets.made_from(self.config, self.graph, self.scripters[key[0]], task, key, self.outputs_of)
        except (Exception, SystemExit):  # noqa: BLE001 - a plug-in that fails
            return False
        return plan.outputs_trusted(outputs, self.made, current.signature, made_from, not self.own[key[0]])
