"""A start the machine refuses (out of descriptors, processes, memory or disk space) is not the run's failure: it
waits a short backoff in its queue and tries again, its retries and attempt number untouched, and says why (the
run's reason; one message for a wave of them)."""

from __future__ import annotations

from pathlib import Path

from coopy_core import Event, EventKind, RunState
from tests.helpers.engine import EngineFactory, run_of, wait_finished, wait_until, write_config
from tests.helpers.machine import descriptors_exhausted


async def test_a_start_the_machine_refuses_waits_without_using_a_retry(
    tmp_path: Path,
    start_engine: EngineFactory,
) -> None:
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        "i=0" = { i = 0 }
        [[stages]]
        name = "s"
        retries = 0
        command = ["true"]
        [[stages]]
        name = "next"
        command = ["true"]
        """,
    )
    events: list[Event] = []
    engine = await start_engine(cfg, events.append)
    assert await wait_finished(engine)
    with descriptors_exhausted():
        engine.add_task({"i": 1}, name="i=1")  # its start happens now, with no descriptor left
        await wait_until(
            lambda: (r := run_of(engine, "i=1", "s")) is not None and "Too many open files" in r.reason,
            "the refused start to be said",
        )
        refused = run_of(engine, "i=1", "s")
        assert refused is not None
        assert refused.state == RunState.QUEUED and refused.attempt == 0, "it never ran: no attempt used"
        assert "not counted as a failure" in refused.reason and "trying again in 1s" in refused.reason
        await wait_until(
            lambda: "trying again in 2s" in (run_of(engine, "i=1", "s") or refused).reason,
            "a second refusal, backing off",
        )
    assert await wait_finished(engine, timeout=60), "it ran once descriptors were free again"
    done = run_of(engine, "i=1", "s")
    assert done is not None and (done.state, done.attempt) == (RunState.DONE, 1)
    said = [e.message for e in events if e.kind == EventKind.MESSAGE and "could not start" in e.message]
    assert len(said) == 1 and "not counted as failures" in said[0], said
    assert [a[3] for a in engine.store.attempts() if a[:2] == ("i=1", "s")] == ["done"], "one attempt in the journal"
