"""What must run and why: the one judgement behind the engine's start-up, `coopy plan` and `coopy why`.

Stages are judged in graph order, so a run knows whether what it needs runs again. A run that passed is
*stale* (it runs again) when a run it needs runs again, when one of its declared outputs is missing, or
when its recipe — what the config would make of it now — differs from the recipe its result was made
from; `signature.explain` names the difference. A run that failed for good stays failed unless its
recipe changed (then it runs again: a fix may have been made) or what it needs runs again. A run with no
recorded recipe (a state dir from before signatures) is taken as current and its recipe recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coopy_core import templates
from coopy_core.config import Config, StageConfig
from coopy_core.graph import Graph, RunKey
from coopy_core.model import Run, RunState
from coopy_core.plan.signature import SCRIPTER_FAILED, Recipe, explain, result_id
from coopy_core.scripter import Scripter
from coopy_core.tasks import Task

# Why a run will run, in the order `coopy plan` lists them.
NEW = "new"
PARAMS = "params changed"
CODE = "code changed"
INPUT = "input changed"
COMMAND = "command changed"
OUTPUT = "output missing"
UPSTREAM = "upstream re-ran"
UNFINISHED = "unfinished"
FAILED_BEFORE = "failed before"
REMOVED = "removed"
CATEGORIES = (NEW, PARAMS, CODE, INPUT, COMMAND, OUTPUT, UPSTREAM, UNFINISHED, FAILED_BEFORE, REMOVED)


@dataclass
class Judgement:
    """Per run that will run (or is listed for another reason): (category, one line)."""

    stale: dict[RunKey, tuple[str, str]] = field(default_factory=dict)  # passed (or failed) runs that run again
    running: dict[RunKey, tuple[str, str]] = field(default_factory=dict)  # running now; their result won't count
    current: dict[RunKey, Recipe] = field(default_factory=dict)  # the current recipe of every run judged
    unrecorded: list[RunKey] = field(default_factory=list)  # runs with no recipe yet: record it
    failed: dict[RunKey, str] = field(default_factory=dict)  # failed for good and staying so: their reasons


RecipeOf = Callable[[RunKey, list[tuple[str, str]]], Recipe]
OutputsOf = Callable[[RunKey], list[Path]]
ENDED = (RunState.DONE, RunState.SKIPPED, RunState.FAILED, RunState.CANCELLED, RunState.RUNNING)


def judge(
    graph: Graph, runs: Mapping[RunKey, Run], recipe_of: RecipeOf, outputs_of: OutputsOf, base: Path
) -> Judgement:
    out = Judgement()
    for stage in graph.order:
        for name in graph.runs(stage):
            key = (stage, name)
            run = runs.get(key)
            if run is None or run.state not in ENDED:
                continue
            needed = graph.needed(key)
            rerun = next((n for n in needed if n in out.stale), None)
            if rerun is not None:
                why = (UPSTREAM, f"upstream {rerun[0]}/{rerun[1]} runs again")
                (out.running if run.state == RunState.RUNNING else out.stale)[key] = why
                continue
            upstream = []
            for need in needed:
                done = runs.get(need)
                signature = done.signature if done else None
                if need in out.current and (signature is None or need in out.unrecorded):
                    signature = out.current[need].signature  # recorded now, at this same start
                upstream.append((f"{need[0]}/{need[1]}", result_id(signature, done.attempt if done else 0)))
            try:
                current = recipe_of(key, upstream)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plug-in Scripter that fails
                if run.state in (RunState.FAILED, RunState.CANCELLED):
                    out.failed[key] = run.reason  # still cannot be made: it stays failed
                elif run.state != RunState.RUNNING:
                    out.stale[key] = (COMMAND, f"its command cannot be made now ({exc})")
                continue
            out.current[key] = current
            stored = Recipe.from_json(run.recipe)
            if run.state == RunState.RUNNING:
                diff = explain(stored, current) if stored is not None else None
                if diff is not None:
                    out.running[key] = diff
                continue
            if run.state in (RunState.FAILED, RunState.CANCELLED):
                diff = explain(stored, current) if stored is not None else None
                if diff is not None:
                    out.stale[key] = (diff[0], f"{diff[1]} since it {run.state.value}")
                elif stored is None and run.signature == SCRIPTER_FAILED:
                    out.stale[key] = (COMMAND, f"its command can be made now (it could not when it {run.state.value})")
                else:
                    out.failed[key] = run.reason
                    if stored is None:
                        out.unrecorded.append(key)  # from before signatures: what it was is recorded now
                continue
            missing = next((p for p in outputs_of(key) if not p.exists()), None)
            if missing is not None:
                out.stale[key] = (OUTPUT, f"{_shown(missing, base)} missing")
                continue
            if stored is None:
                out.unrecorded.append(key)
                continue
            diff = explain(stored, current)
            if diff is not None:
                out.stale[key] = diff
    return out


def outputs_trusted(
    outputs: Sequence[Path], made: Mapping[str, str], signature: str, made_from: Sequence[Path], shared: bool
) -> bool:
    """May a run whose outputs are all there be skipped (`skip_if_done`)? Each output must be recorded as made
    by this very recipe, or — made by no run CooPy recorded, or shared by several runs (a `data/{dataset}.csv`
    every model's run declares) — be no older than what it is made from (the stage's inputs, the outputs of
    the runs it needs). A partial file, or one another recipe made, is never taken for this run's result."""
    if not outputs or not all(p.exists() for p in outputs):
        return False
    unrecorded = []
    for path in outputs:
        made_by = made.get(str(path))
        if made_by is None or shared:
            unrecorded.append(path)
        elif made_by != signature:
            return False
    if unrecorded:
        newest = max((p.stat().st_mtime for p in made_from if p.exists()), default=None)
        if newest is not None and any(p.stat().st_mtime < newest for p in unrecorded):
            return False
    return True


def input_paths(config: Config, scripter: Scripter, task: Task) -> list[Path]:
    """A run's declared `inputs` as paths (relative to its working directory, as its command sees them)."""
    if not config.stage(scripter.stage.name).inputs:
        return []
    run_cwd = getattr(scripter, "run_cwd", None)
    cwd = run_cwd(task, 1) if callable(run_cwd) else config.base_dir
    return [cwd / p for p in scripter.inputs(task, 1)]


def outputs_are_own(stage: StageConfig, identifying: Iterable[str]) -> bool:
    """Does each run of the stage declare outputs no other run declares? True when every `done_when` names
    the run (`{task}`) or every param its runs are identified by; else its outputs are shared (a dataset's
    file that each model's run declares) and never removed by one run, nor judged by one run's recipe."""
    wanted = set(identifying)
    for template in stage.done_when:
        try:
            names = set(templates.placeholders(template))
        except templates.TemplateError:
            return False
        if "task" not in names and not wanted <= names:
            return False
    return True


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
