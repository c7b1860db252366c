"""Filter words (coopy_tui.matching and listing): plain words, states, key=value exactly."""

from __future__ import annotations

from coopy_tui import matching


def keep(text: str, names: list[str], state: str = "queued") -> list[str]:
    terms = matching.parse(text)
    return [n for n in names if matching.matches(terms, matching.hay(n, state), lambda n=n: matching.params_of(n))]


def test_filter_words() -> None:
    names = ["lr=1,seed=1", "lr=13,seed=1", "lr=1,seed=2", "baseline"]
    assert keep("lr=1", names) == ["lr=1,seed=1", "lr=1,seed=2"]  # exactly 1, not 13
    assert keep("lr=1*", names) == ["lr=1,seed=1", "lr=13,seed=1", "lr=1,seed=2"]
    assert keep("LR=1 seed=2", names) == ["lr=1,seed=2"]
    assert keep("seed=", names) == names[:3]
    assert keep("base", names) == ["baseline"]  # plain words: part of the name
    assert keep("queued", names) == names and keep("fail", names) == []  # ... or of the state
    assert keep("", names) == names
