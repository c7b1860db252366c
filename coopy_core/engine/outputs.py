"""What a run is over and what it makes: its target, its recipe, its declared outputs and whether they can be
trusted (skip_if_done), which of them it may remove, and where its `metrics` file is."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coopy_core import templates
from coopy_core.config import Config
from coopy_core.engine.book import Book
from coopy_core.graph import RunKey
from coopy_core.model import Run, RunState
from coopy_core.plan import targets
from coopy_core.plan.judge import outputs_trusted
from coopy_core.plan.signature import Recipe, Recipes, result_id
from coopy_core.scripter import Launch, Scripter, placeholder_values
from coopy_core.tasks import Task


class Outputs:
    def __init__(
        self,
        config: Config,
        book: Book,
        recipes: Recipes,
        scripters: Mapping[str, Scripter],
        own_outputs: Mapping[str, bool],
    ) -> None:
        self.config = config
        self.book = book
        self.graph = book.graph
        self.readiness = book.readiness
        self.recipes = recipes
        self.scripters = scripters
        self.own_outputs = own_outputs  # per stage: each run's outputs are its own (plan.targets.own_outputs)
        self.made: dict[str, str] = {}  # output path -> the signature of the recipe that made it

    # ---------------------------------------------------------------- what a run is over
    def target(self, run: Run) -> Task:
        return targets.target(self.graph, self.readiness, run.key, self.book.stages[run.stage].allow_failed)

    def target_to_start(self, run: Run, note: str = "") -> tuple[Task, str, dict[str, Any] | None]:
        """What a run is over (its configuration, or its group and members), its log header, and for a
        group the document COOPY_MEMBERS names."""
        key = run.key
        header = f"coopy: {run.stage}/{run.name} attempt {run.attempt}: {note}" if note else ""
        if not self.graph.is_group(run.stage):
            return self.graph.tasks[run.name], header, None
        every = self.graph.members(key)
        usable = targets.usable_members(self.graph, self.readiness, key, self.book.stages[run.stage].allow_failed)
        members = tuple(self.graph.tasks[m] for m in usable)
        task = Task(run.name, self.graph.params(key), members)  # type: ignore[arg-type]
        left_out = [m for m in every if m not in set(usable)] if len(usable) != len(every) else []
        line = f"coopy: {run.stage}/{run.name} attempt {run.attempt}: {len(usable)} of {len(every)} members"
        if left_out:
            line += f" ({len(left_out)} left out: what they need failed: {', '.join(left_out[:5])}"
            line += ", ...)" if len(left_out) > 5 else ")"
        header = line + (f"\n{header}" if header else "")
        doc = {
            "stage": run.stage,
            "run": run.name,
            "attempt": run.attempt,
            "params": task.params,
            "members": [{"task": m.name, "params": m.params} for m in members],
            "total": len(every),
            "left_out": left_out,
        }
        return task, header, doc

    # ---------------------------------------------------------------- recipes
    def recipe_of(self, key: RunKey, upstream: list[tuple[str, str]], launch: Launch | None = None) -> Recipe:
        run = self.book.runs.get(key) or Run(*key)
        return self.recipes.make(key[0], self.target(run), self.graph.params(key), upstream, launch)

    def current_recipe(self, run: Run, launch: Launch | None = None) -> Recipe:
        upstream = []
        for need in self.graph.needed(run.key):
            done = self.book.runs.get(need)
            upstream.append(
                (f"{need[0]}/{need[1]}", result_id(done.signature if done else None, done.attempt if done else 0))
            )
        return self.recipe_of(run.key, upstream, launch)

    def record_recipe(self, run: Run, recipe: Recipe) -> None:
        run.recipe = recipe.to_json()
        run.signature = recipe.signature
        if self.recipes.hashes.changed:  # file hashes made for it: kept for the next start and `coopy plan`
            self.book.journal.file_hashes(self.recipes.hashes.changed)

    # ---------------------------------------------------------------- outputs
    def outputs_of(self, key: RunKey) -> list[Path]:
        return targets.outputs_of(self.graph, self.scripters, self.book.runs, key)

    def outputs_exist(self, run: Run) -> bool:
        """skip_if_done: the outputs are all there and to be trusted (plan.outputs_trusted)."""
        try:
            outputs = self.outputs_of(run.key)
            current = self.current_recipe(run)
            if not outputs or not all(p.exists() for p in outputs):
                return False
            made_from = self.made_from(run)
        except (Exception, SystemExit):  # noqa: BLE001 - a plug-in that fails
            return False
        if not outputs_trusted(outputs, self.made, current.signature, made_from, not self.own_outputs[run.stage]):
            return False
        self.record_recipe(run, current)
        self.remember(run)
        return True

    def clearable(self, run: Run) -> list[Path]:
        """The outputs a run may remove before it starts and when it fails: its own, and none of what it is
        made from (a stage that declares its input, or another run's output, as its own keeps it)."""
        if not self.own_outputs[run.stage]:
            return []
        try:
            outputs = self.outputs_of(run.key)
            if not outputs:
                return []
            sources = {str(p) for p in self.made_from(run)}
        except (Exception, SystemExit):  # noqa: BLE001 - a Scripter that fails: nothing is removed for it
            return []
        return [p for p in outputs if str(p) not in sources]

    def remember(self, run: Run) -> None:
        """Which recipe made each output file (what skip_if_done trusts)."""
        if run.signature is None:
            return
        try:
            for path in self.outputs_of(run.key):
                self.made[str(path)] = run.signature
        except (Exception, SystemExit):  # noqa: BLE001 - a plug-in that fails
            return

    def made_from(self, run: Run) -> list[Path]:
        """The files a run's outputs are made from: its declared inputs and what the runs it needs made."""
        return targets.made_from(
            self.config, self.graph, self.scripters[run.stage], self.target(run), run.key, self.outputs_of
        )

    def metrics_file(self, run: Run, state: RunState) -> Path | None:
        """The stage's `metrics` file for this attempt: read when it is done (a missing one is said in
        its log), or when it is there anyway."""
        cfg = self.book.stages[run.stage]
        template = cfg.metrics
        if template is None or state == RunState.QUEUED:
            return None
        values = placeholder_values(self.target(run), run.stage, run.attempt)
        try:
            cwd = self.config.base_dir / (templates.render(cfg.cwd, values) if cfg.cwd else "")
            path = cwd / templates.render(template, values)
        except templates.TemplateError:
            return None
        return path if state == RunState.DONE or path.exists() else None
