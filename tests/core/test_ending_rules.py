"""engine.ending: each rule of an attempt's end, tested alone (no loop, no store, no process)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from coopy_core.config import Config, load_config
from coopy_core.engine import ending
from coopy_core.engine.book import Book
from coopy_core.engine.ending import Ended, Endings
from coopy_core.graph import Readiness
from coopy_core.lifecycle.live import Ending
from coopy_core.model import Run, RunState


class Journal:
    """Records what the rules write; events are only counted."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str]] = []
        self.attempts: list[tuple[Any, ...]] = []
        self.messages: list[str] = []

    def run(self, run: Run, later: bool = False) -> None:
        self.runs.append((run.name, run.state.value))

    def attempt(self, row: tuple[Any, ...]) -> None:
        self.attempts.append(row)

    def emit_heard(self, kind: Any, make: Any, state: Any = None, later: bool = False) -> None:
        pass

    def emit(self, kind: Any, message: str = "", **kw: Any) -> None:
        self.messages.append(message)


class Settle:
    def __init__(self) -> None:
        self.replaced: list[tuple[str, str]] = []

    def replace(self, run: Run, reason: str) -> None:
        self.replaced.append((run.name, reason))


class Loop:
    """call_later that only records the delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def call_later(self, delay: float, *args: Any) -> asyncio.TimerHandle:
        self.delays.append(delay)
        return None  # type: ignore[return-value]


NOW = 1000.0


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "coopy.toml"
    path.write_text(
        '[tasks.named]\n"a" = { i = 0 }\n[[stages]]\nname = "s"\ncommand = ["true"]\nretries = 2\nbackoff = 3\n'
    )
    return load_config(path)


@pytest.fixture
def parts(config: Config) -> tuple[Endings, Book, Journal, Settle, Loop]:
    graph = config.graph()
    book = Book(config, graph, Readiness(graph), lambda: NOW)
    journal, settle, loop = Journal(), Settle(), Loop()
    book.journal = journal  # type: ignore[assignment]
    book.loop = loop  # type: ignore[assignment]
    endings = Endings(book, settle, None, None, None, None, None, lambda: None, lambda: None)  # type: ignore[arg-type]
    return endings, book, journal, settle, loop


def running(book: Book) -> Run:
    run = Run("s", "a", state=RunState.RUNNING, attempt=1, started_at=NOW - 5)
    book.add(run)
    return run


def ended(book: Book, run: Run, state: RunState, **kw: Any) -> Ended:
    return Ended(run, Ending(state, **kw), book.stages["s"], NOW, kw.get("reason", ""))


def test_the_rules_are_declared_in_the_order_the_issue_names(parts: Any) -> None:
    names = [rule.__name__ for rule in ending.RULES]
    wanted = ["refused_start", "stopped_with_engine", "retry", "rerun", "settle", "hooks"]
    assert [n for n in names if n in wanted] == wanted


def test_a_refused_start_waits_a_doubling_backoff_without_a_new_attempt(parts: Any) -> None:
    endings, book, journal, _settle, loop = parts
    run = running(book)
    for _ in range(3):
        run.state = RunState.RUNNING
        run.attempt = 1
        e = ended(book, run, RunState.FAILED, reason="Too many open files", transient=True)
        assert ending.refused_start(endings, e) is True
    assert run.attempt == 0 and run.state == RunState.QUEUED
    assert loop.delays == [1.0, 2.0, 4.0]
    assert len(journal.messages) == 1, "one message for a wave of refused starts"


def test_a_start_that_was_not_refused_clears_the_refusals(parts: Any) -> None:
    endings, book, _journal, _settle, _loop = parts
    run = running(book)
    endings.refused[run.key] = 3
    assert ending.refused_start(endings, ended(book, run, RunState.DONE)) is False
    assert run.key not in endings.refused


def test_stopped_with_the_engine_goes_back_to_the_queue_and_starts_nothing(parts: Any) -> None:
    endings, book, _journal, _settle, _loop = parts
    run = running(book)
    run.handle = {"pid": 1}
    e = ended(book, run, RunState.QUEUED)
    assert ending.stopped_with_engine(endings, e) is True
    assert run.state == RunState.QUEUED and run.handle is None and e.dispatch is False


def test_a_failure_with_retries_left_waits_its_backoff(parts: Any) -> None:
    endings, book, journal, _settle, loop = parts
    run = running(book)
    run.failures = 1
    e = ended(book, run, RunState.FAILED, reason="exit code 1")
    assert ending.retry(endings, e) is True
    assert run.failures == 2 and run.state == RunState.QUEUED
    assert run.not_before == NOW + 6 and loop.delays == [6.0]
    assert "retry 2/2 in 6s" in run.reason
    assert "retrying in 6s" in journal.messages[-1]


def test_no_retry_once_the_budget_is_spent(parts: Any) -> None:
    endings, book, _journal, _settle, _loop = parts
    run = running(book)
    run.failures = 2
    assert ending.retry(endings, ended(book, run, RunState.FAILED)) is False


def test_a_run_whose_inputs_changed_while_it_ran_runs_again(parts: Any) -> None:
    endings, book, _journal, settle, _loop = parts
    run = running(book)
    run.rerun, run.rerun_why = True, "a member joined"
    assert ending.rerun(endings, ended(book, run, RunState.DONE)) is True
    assert settle.replaced == [("a", "runs again: a member joined (attempt 1 done on the old one)")]
    assert run.rerun is False


def test_a_cancelled_run_is_not_run_again(parts: Any) -> None:
    endings, book, _journal, _settle, _loop = parts
    run = running(book)
    run.rerun = True
    assert ending.rerun(endings, ended(book, run, RunState.CANCELLED)) is False


def test_settle_gives_the_final_state_and_lets_hooks_and_readiness_follow(parts: Any) -> None:
    endings, book, _journal, _settle, _loop = parts
    run = running(book)
    assert ending.settle(endings, ended(book, run, RunState.DONE, reason="ok")) is False
    assert run.state == RunState.DONE and run.reason == "ok"
    assert book.counts["s"][RunState.DONE.value] == 1 and book.counts["s"][RunState.RUNNING.value] == 0
