"""A start the machine refuses waits 1 s, 2 s, 4 s ... before it tries again, doubling per refusal in a row, and
never more than 30 s (README: When the machine runs short). The machine refuses for real (this process out of
descriptors); the engine's clock is hurried — every look at it is STEP seconds after the last — so each backoff
is over at once and eight refusals in a row take a moment, not a minute. A run's `not_before` is a look at
that clock plus its backoff, so the backoff is read back from it exactly."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

from coopy_core import Engine, Event, EventKind, RunState, load_config
from tests.helpers.engine import run_of, wait_finished, wait_until, write_config
from tests.helpers.machine import descriptors_exhausted

CAP = 30  # seconds
STEP = 1000.0  # seconds the hurried clock moves per look: more than any backoff it could say
START = float(int(time.time()))
_ticks = (START + STEP * i for i in itertools.count())


def hurried_clock() -> float:
    return next(_ticks)


def _fresh_clock() -> None:
    """The hurried clock starts at now for each test (a suite may import this module minutes before)."""
    global START, _ticks
    START = float(int(time.time()))
    _ticks = (START + STEP * i for i in itertools.count())


def refusals(events: list[Event]) -> list[tuple[int, float]]:
    """(the backoff its reason says, the backoff its not_before says) for each refused start, in order."""
    out = []
    for event in events:
        run = event.run
        if event.kind != EventKind.RUN or run is None or run.task != "i=1" or run.state != RunState.QUEUED:
            continue
        said = re.search(r"trying again in (\d+)s \(not counted as a failure\)", run.reason)
        if said and run.not_before is not None:
            out.append((int(said.group(1)), round((run.not_before - START) % STEP, 6)))
    return out


async def refused_in_a_row(tmp_path: Path, times: int, timeout: float = 60) -> tuple[Engine, list[tuple[int, float]]]:
    """An engine whose run s/i=1 the machine refused at least `times` times in a row, descriptors free again."""
    cfg = write_config(
        tmp_path,
        """
        [tasks.named]
        "i=0" = { i = 0 }
        [[stages]]
        name = "s"
        retries = 0
        command = ["true"]
        """,
    )
    _fresh_clock()
    engine = Engine(load_config(cfg), clock=hurried_clock)
    events: list[Event] = []
    engine.subscribe(events.append)
    await engine.start()
    try:
        assert await wait_finished(engine)
        with descriptors_exhausted():
            engine.add_task({"i": 1}, name="i=1")  # every start of it is refused until descriptors are free
            await wait_until(lambda: len(refusals(events)) >= times, f"{times} refusals in a row", timeout)
    except BaseException:
        await engine.shutdown(stop_running=True)
        raise
    return engine, refusals(events)


async def test_a_refused_start_backs_off_doubling_up_to_30s(tmp_path: Path) -> None:
    engine, seen = await refused_in_a_row(tmp_path, 8)
    try:
        assert [said for said, _ in seen[:8]] == [1, 2, 4, 8, 16, CAP, CAP, CAP], seen[:8]
        assert all(said == waits for said, waits in seen), f"the reason and not_before disagree: {seen}"
        assert max(waits for _, waits in seen) == CAP, f"a refused start waited more than {CAP}s: {seen}"
        assert await wait_finished(engine, timeout=60), "it ran once descriptors were free again"
        done = run_of(engine, "i=1", "s")
        assert done is not None and (done.state, done.attempt) == (RunState.DONE, 1)
    finally:
        await engine.shutdown(stop_running=True)


async def test_the_backoff_stays_capped_after_a_thousand_refusals_in_a_row(tmp_path: Path) -> None:
    engine, seen = await refused_in_a_row(tmp_path, 1030, timeout=20)  # about a second of refusals
    try:
        assert {said for said, _ in seen[5:]} == {CAP}
        assert await wait_finished(engine, timeout=15), "it ran once descriptors were free again"
    finally:
        await engine.shutdown(stop_running=True)
