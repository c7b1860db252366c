"""RunRows: one stage's runs in a table's order, and the filter over them (no drawing here).

Every run has a key: its sort key (coopy_tui.listing), then the position it arrived in (runs
that sort equal keep the order the engine listed them in), then its name. The keys of every run
and those of the runs the filter keeps are `SortedList`s (the `sortedcontainers` package, keys in
blocks of about a thousand): a run that changed moves with a removal and an insertion, a row is
found by position and a run's row by bisection, so neither a batch of events nor a keystroke in
the filter ever re-sorts a whole stage.

The filter is answered from indexes instead of a call per run: a plain word from the lower-cased
names (typing one more letter only looks among the runs the shorter word kept) and the states
(few), a `key=value` word from an index of the params built the first time one is typed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from coopy_core.model import RunState, RunView
from coopy_tui.listing import Term, matches, params_of
from coopy_tui.sorting import SORTS, SortMode

Key = tuple[Any, ...]  # a run's sort key; it ends with the run's name, so no two runs share one
FEW = 8  # a filter that keeps fewer than 1/FEW of the runs sorts its runs; more: walks the whole order


class RunRows:
    def __init__(self) -> None:
        self.runs: dict[str, RunView] = {}  # every run of the stage, shown or filtered out
        self.sort: SortMode = SORTS[0]
        self.terms: list[Term] = []
        self._keys: dict[str, Key] = {}  # task -> its key
        self._arrival: dict[str, int] = {}
        self._all = SortedList()
        self._shown = self._all  # the filter's rows (the same object when there is no filter)
        self._lower: dict[str, str] = {}  # task -> its name in lower case (plain words look here)
        self._by_state: dict[RunState, set[str]] = {}
        self._params: dict[str, dict[str, str]] = {}  # task -> its params, parsed when first needed
        self._param_index: dict[str, dict[str, set[str]]] = {}  # param -> value -> tasks ...
        self._with_param: dict[str, set[str]] = {}  # param -> the tasks that have it (`key=`) ...
        self._indexed = False  # ... built the first time a `key=value` word is typed
        self._narrow: tuple[str, set[str]] | None = None  # the last plain word and what it matched
        self._kept: set[str] = set()  # the tasks of the filter's rows (kept current while filtered)

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._shown)

    @property
    def total(self) -> int:
        return len(self.runs)

    @property
    def filtered(self) -> bool:
        return self._shown is not self._all

    def task_at(self, row: int) -> str:
        return str(self._shown[row][-1])

    def tasks(self, start: int = 0, stop: int | None = None) -> list[str]:
        """Shown tasks in row order (all of them, or rows start .. stop-1)."""
        if start == 0 and stop is None:
            return [key[-1] for key in self._shown]
        return [key[-1] for key in self._shown.islice(start, len(self._shown) if stop is None else stop)]

    def shown(self, task: str) -> bool:
        key = self._keys.get(task)
        return key is not None and (not self.filtered or key in self._shown)

    def row_of(self, task: str) -> int | None:
        key = self._keys.get(task)
        if key is None or (self.filtered and key not in self._shown):
            return None
        return self._shown.bisect_left(key)

    def matches(self, run: RunView) -> bool:
        if not self.terms:
            return True
        task = run.task
        return matches(self.terms, f"{self._lower[task]} {run.state.value}", lambda: self._params_of(task))

    # ------------------------------------------------------------------ changing
    def _key(self, run: RunView) -> Key:
        return (*self.sort.key(run.task, run), self._arrival[run.task], run.task)

    def _set(self, run: RunView) -> Key | None:
        """Record the run; returns its previous key (None: a new run)."""
        task = run.task
        old = self.runs.get(task)
        self.runs[task] = run
        if old is None:
            self._arrival[task] = len(self._arrival)
            self._lower[task] = task.lower()
            if self._indexed:
                self._index_params(task)
        if old is None or old.state != run.state:
            if old is not None:
                self._by_state[old.state].discard(task)
            self._by_state.setdefault(run.state, set()).add(task)
        previous = self._keys.get(task)
        self._keys[task] = self._key(run)
        return previous

    def load(self, runs: Iterable[RunView]) -> None:
        """Take these runs (start-up, or again after a re-attach): the order built in one sort."""
        for run in runs:
            self._set(run)
        self._narrow = None  # what the last word matched was kept current by apply(), not by these
        self._rebuild()

    def set_sort(self, mode: SortMode) -> None:
        self.sort = mode
        self._keys = {task: self._key(run) for task, run in self.runs.items()}
        self._rebuild()

    def _rebuild(self) -> None:
        self._all = SortedList(self._keys.values())
        self._shown = self._all
        if self.terms:
            self._kept = self._kept_by(self.terms)
            self._shown = self._sorted(self._kept)

    def set_filter(self, terms: list[Term]) -> bool:
        """Filter by these words; False when the rows stay the same runs in the same order.

        Typing a word letter by letter often keeps the same runs (`s`, `se`, `see`, `seed` in a sweep
        over seeds): comparing the kept sets is far cheaper than sorting 100,000 rows again.
        """
        was_filtered = self.filtered
        self.terms = terms
        if not terms:
            self._shown = self._all
            return was_filtered
        kept = self._kept_by(terms)
        if was_filtered and kept == self._kept:
            return False
        self._kept = kept
        self._shown = self._sorted(kept)
        return True

    def apply(self, runs: Iterable[RunView]) -> tuple[set[str], int]:
        """Bring these changed runs into their rows. Returns the tasks that left the filter, and the first
        row anything moved at (len(self) when nothing shown changed)."""
        removed: set[str] = set()
        first = len(self._shown)
        filtered = self.filtered
        narrow = self._narrow
        for run in runs:
            task = run.task
            old = self._set(run)
            new = self._keys[task]
            if narrow is not None:
                if narrow[0] in self._lower[task] or narrow[0] in run.state.value:
                    narrow[1].add(task)
                else:
                    narrow[1].discard(task)
            was_shown = old is not None and (not filtered or old in self._shown)
            if was_shown and old is not None:
                first = min(first, self._shown.bisect_left(old))
            if old is None:
                self._all.add(new)
            elif old != new:
                self._all.discard(old)
                self._all.add(new)
            if filtered:
                if old is not None and was_shown:
                    self._shown.discard(old)
                if self.matches(run):
                    self._shown.add(new)
                    self._kept.add(task)
                elif was_shown:
                    self._kept.discard(task)
                    removed.add(task)
                    continue
                else:
                    continue
            first = min(first, self._shown.bisect_left(new))
        return removed, first

    # ------------------------------------------------------------------ the filter
    def _kept_by(self, terms: list[Term]) -> set[str]:
        sets = sorted((self._word(t) if t.key is None else self._param(t) for t in terms), key=len)
        # a copy: apply() changes the kept set, which must not be the narrowing cache or a param index's set
        return set(sets[0]).intersection(*sets[1:]) if len(sets) > 1 else set(sets[0])

    def _sorted(self, kept: set[str]) -> SortedList:
        keys = self._keys
        if len(kept) * FEW < len(keys):
            return SortedList(keys[task] for task in kept)
        return SortedList(key for key in self._all if key[-1] in kept)

    def _word(self, term: Term) -> set[str]:
        word = term.text
        states = [s for s in self._by_state if word in s.value]
        narrow = self._narrow
        if narrow is not None and narrow[0] in word:  # one more letter: only what the shorter word kept
            lower = self._lower
            state_of = self.runs
            hits = {t for t in narrow[1] if word in lower[t] or state_of[t].state in states}
        else:
            hits = {t for t, low in self._lower.items() if word in low}
            for state in states:
                hits |= self._by_state[state]
        self._narrow = (word, hits)
        return hits

    def _params_of(self, task: str) -> dict[str, str]:
        params = self._params.get(task)
        if params is None:
            params = self._params[task] = params_of(task)
        return params

    def _index_params(self, task: str) -> None:
        for name, value in params_of(task).items():
            self._param_index.setdefault(name, {}).setdefault(value, set()).add(task)
            self._with_param.setdefault(name, set()).add(task)

    def _param(self, term: Term) -> set[str]:
        if not self._indexed:
            self._indexed = True
            for task in self.runs:
                self._index_params(task)
        values = self._param_index.get(term.key or "", {})
        if not term.prefix:
            return values.get(term.value, set())
        if not term.value:  # `key=`: any value (the union of them all, 100,000 runs, costs a keystroke)
            return self._with_param.get(term.key or "", set())
        hits: set[str] = set()
        for value, tasks in values.items():
            if value.startswith(term.value):
                hits |= tasks
        return hits
