"""The task filter (`/`): which runs a line of words keeps.

A run is kept when every word matches it. A word with `=` is a param: `lr=1` matches the param lr
with exactly the value 1 (not lr=13), `lr=1*` any value starting with 1, `lr=` any value of lr. Any
other word matches when it is part of the run's name or its state (`fail`, `cnn`, `seed=2,`). Case
does not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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


def count_text(here: int, here_all: int, shown: int, every: int) -> str:
    """`12 of 400 here · 48 of 1600 in all stages`, or `no matches` (the words match nothing)."""
    if not shown:
        return "no matches"
    if not here:
        return f"no matches here · {shown} in other stages"
    return f"{here} of {here_all} here · {shown} of {every} in all stages"
