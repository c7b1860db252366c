"""`attempt_history`: the ended attempts of a run (or of a stage's runs) from the store, what the TUI shows
of earlier attempts and of runs that failed before they passed. Real processes, a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from coopy_core import CommandError
from coopy_core.commands import check_call
from tests.helpers.engine import EngineFactory, wait_finished, write_config


async def test_history_of_a_retried_run_and_of_a_stage(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = write_config(
        tmp_path,
        """
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "work"
        command = ["sh", "-c", "echo attempt $1; [ $0 = 2 ] || [ $1 = 2 ] || exit 7", "{x}", "{attempt}"]
        workers = 2
        retries = 1
        backoff = 0
    """,
    )
    engine = await start_engine(path)
    assert await wait_finished(engine)
    rows = engine.attempt_history("work", "x=1")
    assert [(r["attempt"], r["state"], r["exit_code"]) for r in rows] == [(1, "failed", 7), (2, "done", 0)]
    assert rows[0]["log"].endswith("work/x=1.1.log") and Path(rows[0]["log"]).read_text() == "attempt 1\n"
    assert rows[0]["started_at"] <= rows[0]["ended_at"] <= rows[1]["started_at"]
    assert "exit code 7" in rows[0]["reason"]
    every = engine.attempt_history("work")
    assert sorted((r["task"], r["attempt"]) for r in every) == [("x=1", 1), ("x=1", 2), ("x=2", 1)]
    with pytest.raises(CommandError, match="no stage named"):
        engine.attempt_history("nope")


def test_the_server_checks_its_arguments() -> None:
    assert check_call("attempt_history", ["work"], {}) == {"stage": "work", "task": None}
    with pytest.raises(CommandError, match="task should be"):
        check_call("attempt_history", ["work", 3], {})
