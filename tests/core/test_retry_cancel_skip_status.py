"""A run's commands and options keep their word (each was broken once in the code and left every suite green):

- `retry` gives a fresh retry budget
- `skip_if_done` skips only when every output exists
- cancel sends SIGTERM to every process of the run (its group and what escaped it) before any SIGKILL
- a live engine's `coopy status --json` has each run's exit_code; plain `coopy status` lists the failed runs with
  their reason and log (live and from the store)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from coopy_core import RunState
from tests.helpers.cli import coopy, status
from tests.helpers.engine import (
    EngineFactory,
    one_stage,
    run_of,
    wait_finished,
    wait_state,
    wait_until,
    write_config,
)
from tests.helpers.marks import read_marks, starts, step_argv
from tests.helpers.processes import kill_all, processes_mentioning


async def test_retry_gives_a_fresh_retry_budget(tmp_path: Path, start_engine: EngineFactory) -> None:
    marks = tmp_path / "marks"
    cfg = one_stage(tmp_path, step_argv(marks, "--fail-attempts", "99"), "retries = 1\nbackoff = 0")
    engine = await start_engine(cfg)
    assert not await wait_finished(engine)
    assert starts(read_marks(marks))[("s", "i=0")] == 2
    engine.retry("i=0", "s")
    assert not await wait_finished(engine)
    run = run_of(engine, "i=0", "s")
    assert run is not None and (run.state, run.attempt) == (RunState.FAILED, 4), "retry: two more attempts"
    assert starts(read_marks(marks))[("s", "i=0")] == 4


async def test_skip_if_done_needs_every_output(tmp_path: Path, start_engine: EngineFactory) -> None:
    (tmp_path / "out").mkdir()
    for name in ("i=0.a", "i=0.b", "i=1.a"):  # i=1 lacks its .b
        (tmp_path / "out" / name).write_text("earlier\n")
    cfg = one_stage(
        tmp_path,
        '["sh", "-c", "echo ran >> ran.$0; touch out/$0.a out/$0.b", "{task}"]',
        'done_when = ["out/{task}.a", "out/{task}.b"]\nskip_if_done = true',
        tasks=2,
    )
    engine = await start_engine(cfg)
    assert await wait_finished(engine)
    assert run_of(engine, "i=0", "s").state == RunState.SKIPPED  # type: ignore[union-attr]
    assert run_of(engine, "i=1", "s").state == RunState.DONE, "one output of two is not done"  # type: ignore[union-attr]
    assert not (tmp_path / "ran.i=0").exists() and (tmp_path / "ran.i=1").exists()


TRAPS = (
    "trap 'echo group >> got_term; exit 0' TERM; "
    "setsid sh -c 'trap \"echo escaped >> got_term; exit 0\" TERM; sleep 60 & wait' & "
    "sleep 60 & wait"
)


async def test_cancel_sends_sigterm_to_every_process_first(tmp_path: Path, start_engine: EngineFactory) -> None:
    """Every process of a cancelled run, in its group or escaped from it, gets SIGTERM (a chance to clean up)
    before any SIGKILL: each traps it, writes a line and exits at once."""
    cfg = one_stage(tmp_path, json.dumps(["sh", "-c", TRAPS]))
    engine = await start_engine(cfg)
    prefix = f"COOPY_RUN_ID={tmp_path / '.coopy'}:s/i=0/"
    await wait_until(lambda: len(processes_mentioning(prefix, environ=True)) >= 5, "the run's five processes")
    began = time.monotonic()
    engine.cancel("i=0", "s")
    await wait_state(engine, "i=0", "s", RunState.CANCELLED)
    took = time.monotonic() - began
    try:
        assert sorted((tmp_path / "got_term").read_text().split()) == ["escaped", "group"]
        assert took < 2.5, f"it took {took:.1f}s: something waited for the SIGKILL after the grace"
        assert processes_mentioning(prefix, environ=True) == []
    finally:
        kill_all(processes_mentioning(prefix, environ=True))


def test_live_status_has_exit_codes_and_plain_status_lists_failures(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        ok = { code = 0 }
        bad = { code = 3 }
        [[stages]]
        name = "s"
        workers = 2
        command = ["sh", "-c", "echo about to exit $0; exit $0", "{code}"]
        """,
    )
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
    try:
        from tests.helpers.waiting import wait_for

        wait_for(lambda: {r["state"] for r in status(cfg)["runs"]} == {"done", "failed"}, "both to end", 30)
        live = status(cfg)
        assert live.get("live") is True
        codes = {r["task"]: r["exit_code"] for r in live["runs"]}
        assert codes == {"ok": 0, "bad": 3}
        for where in ("live", "store"):
            if where == "store":
                assert coopy("stop", str(cfg), cwd=tmp_path).returncode == 0
                wait_for(lambda: status(cfg)["engine_pid"] is None, "the engine to stop", 30)
            text = coopy("status", str(cfg), cwd=tmp_path).stdout
            failed = [line for line in text.splitlines() if line.strip().startswith("failed: s/bad")]
            assert len(failed) == 1 and "exit code 3" in failed[0], (where, text)
            log = str(tmp_path / ".coopy" / "logs" / "s" / "bad.1.log")
            assert f"log: {log}" in text, (where, text)
            assert "s/ok" not in text
    finally:
        coopy("stop", str(cfg), cwd=tmp_path)
