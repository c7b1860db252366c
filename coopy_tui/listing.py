"""How a stage's runs are listed: the sort orders and the filter, one definition for the TUI and the engine.

The TUI orders and filters the runs it holds with these (in the core so that an engine could one day
keep the same order and send a screen only the rows it shows; today a screen holds every run). A sort
key works on any run record with `state`, `priority`, `order`, `started_at`, `ended_at` and
`not_before` (the engine's `Run` and a screen's `RunView` both have them); the run's name is
passed beside it (`Run.name`, `RunView.task`).

The filter (`/`): a run is kept when every word matches it. A word with `=` is a param: `lr=1`
matches the param lr with exactly the value 1 (not lr=13), `lr=1*` any value starting with 1,
`lr=` any value of lr. Any other word matches when it is part of the run's name or its state
(`fail`, `cnn`, `seed=2,`). Case does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from coopy_core.model import RunState


class Listed(Protocol):
    """What a sort key reads of a run."""

    @property
    def state(self) -> RunState: ...
    @property
    def priority(self) -> int: ...
    @property
    def order(self) -> int: ...
    @property
    def started_at(self) -> float | None: ...
    @property
    def ended_at(self) -> float | None: ...
    @property
    def not_before(self) -> float | None: ...


SortKey = Callable[[str, Listed], tuple[Any, ...]]

_GROUP = {
    RunState.RUNNING: 0,
    RunState.QUEUED: 1,
    RunState.WAITING: 2,
    RunState.FAILED: 3,
    RunState.BLOCKED: 3,
    RunState.CANCELLED: 4,
    RunState.DONE: 5,
    RunState.SKIPPED: 5,
    RunState.REMOVED: 6,
}
_STATE_ORDER = {  # `state` sort: what needs a look first
    RunState.FAILED: 0,
    RunState.BLOCKED: 1,
    RunState.CANCELLED: 2,
    RunState.RUNNING: 3,
    RunState.QUEUED: 4,
    RunState.WAITING: 5,
    RunState.DONE: 6,
    RunState.SKIPPED: 7,
    RunState.REMOVED: 8,
}
_NUMBER = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"  # 10, 0.001, 1e-4, 2.5E3
_CHUNKS = re.compile(f"({_NUMBER})")
_IS_NUMBER = re.compile(f"{_NUMBER}$")


def natural_key(name: str) -> tuple[tuple[int, float, str], ...]:
    """`lr=1` < `lr=2` < `lr=10` and `lr=1e-4` < `lr=0.001` < `lr=0.01` < `lr=0.1` (numbers, decimals and
    exponents included, compare by value; the rest as text, case-blind; equal values by their spelling)."""
    return tuple(
        (0, float(part), part) if _IS_NUMBER.match(part) else (1, 0.0, part.lower())
        for part in _CHUNKS.split(name)
        if part
    )


def queue_key(name: str, run: Listed) -> tuple[Any, ...]:
    """The default: running (oldest first), queued in the order they would start, runs waiting out a
    retry's backoff, waiting ones, then failed / blocked, cancelled, and finished ones (newest first);
    runs of removed configurations last."""
    state = run.state
    group = _GROUP[state]
    if state == RunState.RUNNING:
        return (group, run.started_at or 0.0, run.order)
    if state == RunState.QUEUED:
        if run.not_before is not None:
            return (1.5, run.not_before, run.order)
        return (group, -run.priority, run.order)
    if state == RunState.WAITING:
        return (group, -run.priority, run.order)
    return (group, -(run.ended_at or 0.0), run.order)


def name_key(name: str, run: Listed) -> tuple[Any, ...]:
    return (natural_key(name), run.order)


def state_key(name: str, run: Listed) -> tuple[Any, ...]:
    return (_STATE_ORDER[run.state], natural_key(name), run.order)


def elapsed_key(name: str, run: Listed) -> tuple[Any, ...]:
    """Longest first: running runs by their start (the oldest has run longest), then ended ones by how
    long they took; runs that never started last."""
    if run.started_at is None:
        return (2, 0.0, run.order)
    if run.state == RunState.RUNNING or run.ended_at is None:
        return (0, run.started_at, run.order)
    return (1, -(run.ended_at - run.started_at), run.order)


SORT_KEYS: dict[str, SortKey] = {"queue": queue_key, "name": name_key, "state": state_key, "elapsed": elapsed_key}


# ---------------------------------------------------------------------- the filter
@dataclass(frozen=True, slots=True)
class Term:
    text: str  # lower case
    key: str | None = None  # a `key=value` word: the param's name
    value: str = ""
    prefix: bool = False  # `key=val*` (or `key=`): any value starting with `val`


def parse(text: str) -> list[Term]:
    terms = []
    for word in text.lower().split():
        key, sep, value = word.partition("=")
        if sep and key:
            prefix = value.endswith("*") or not value
            terms.append(Term(word, key, value.rstrip("*"), prefix))
        else:
            terms.append(Term(word))
    return terms


def params_of(name: str) -> dict[str, str]:
    """`model=cnn,seed=1` -> {"model": "cnn", "seed": "1"} (lower case; words without `=` are left out)."""
    params = {}
    for token in name.lower().split(","):
        key, sep, value = token.partition("=")
        if sep:
            params[key] = value
    return params


def hay(name: str, state: str) -> str:
    """What plain words are looked for in."""
    return f"{name} {state}".lower()


def matches(terms: list[Term], text: str, params: Callable[[], dict[str, str]]) -> bool:
    """`text` from `hay()`; `params` gives the run's params when a `key=value` word needs them."""
    for term in terms:
        if term.key is None:
            if term.text not in text:
                return False
            continue
        value = params().get(term.key)
        if value is None or not (value.startswith(term.value) if term.prefix else value == term.value):
            return False
    return True


def run_matches(terms: list[Term], name: str, state: RunState) -> bool:
    """One run against the filter's words (what `matches` does, for a single run)."""
    return not terms or matches(terms, hay(name, state.value), lambda: params_of(name))
