"""What must run and why: the one judgement behind the engine's start-up, `coopy plan` and `coopy why`.

Stages are judged in graph order, so a run knows whether what it needs runs again. A run that passed is
*stale* (it runs again) when a run it needs runs again, when one of its declared outputs is missing, or
when its recipe — what the config would make of it now — differs from the recipe its result was made
from; `signature.explain` names the difference. A run that failed for good stays failed unless its
recipe changed (then it runs again: a fix may have been made) or what it needs runs again. A run with no
recorded recipe (a state dir from before signatures) is taken as current and its recipe recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coopy_core.graph import Graph, RunKey
from coopy_core.model import Run, RunState
from coopy_core.signature import Recipe, explain, result_id

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
    current: dict[RunKey, Recipe] = field(default_factory=dict)  # the current recipe of every run judged
    unrecorded: list[RunKey] = field(default_factory=list)  # passed runs with no recipe yet: record it
    failed: dict[RunKey, str] = field(default_factory=dict)  # failed for good and staying so: their reasons


RecipeOf = Callable[[RunKey, list[tuple[str, str]]], Recipe]
OutputsOf = Callable[[RunKey], list[Path]]


def judge(
    graph: Graph, runs: Mapping[RunKey, Run], recipe_of: RecipeOf, outputs_of: OutputsOf, base: Path
) -> Judgement:
    out = Judgement()
    for stage in graph.order:
        for name in graph.runs(stage):
            key = (stage, name)
            run = runs.get(key)
            if run is None or run.state not in (RunState.DONE, RunState.SKIPPED, RunState.FAILED, RunState.CANCELLED):
                continue
            needed = graph.needed(key)
            rerun = next((n for n in needed if n in out.stale), None)
            if rerun is not None:
                out.stale[key] = (UPSTREAM, f"upstream {rerun[0]}/{rerun[1]} runs again")
                continue
            upstream = []
            for need in needed:
                done = runs.get(need)
                upstream.append((f"{need[0]}/{need[1]}", result_id(done.signature if done else None,
                                                                  done.attempt if done else 0)))
            try:
                current = recipe_of(key, upstream)
            except Exception as exc:  # noqa: BLE001 - a plug-in Scripter that fails: it runs, and fails there
                out.stale[key] = (COMMAND, f"its command cannot be made now ({exc})")
                continue
            out.current[key] = current
            if run.state in (RunState.FAILED, RunState.CANCELLED):
                before = Recipe.from_json(run.recipe)
                diff = explain(before, current) if before is not None else None
                if diff is not None:
                    out.stale[key] = (diff[0], f"{diff[1]} since it {run.state.value}")
                else:
                    out.failed[key] = run.reason
                continue
            missing = next((p for p in outputs_of(key) if not p.exists()), None)
            if missing is not None:
                out.stale[key] = (OUTPUT, f"{_shown(missing, base)} missing")
                continue
            stored = Recipe.from_json(run.recipe)
            if stored is None:
                out.unrecorded.append(key)
                continue
            diff = explain(stored, current)
            if diff is not None:
                out.stale[key] = diff
    return out


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
