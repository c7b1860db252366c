"""10,000 runs: events only mark rows dirty; one repaint applies a whole burst; nothing is rebuilt per event.

The timings printed here are the numbers quoted in the report (run with -s to see them); the
asserted bounds are loose on purpose (2 shared cores in CI).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from coopy_core.model import EventKind, RunState, RunView
from coopy_tui.app import CoopyApp
from tests.helpers.tui import NOW, FakeEngine, fixed_clock, wait_for

N = 10_000


def big_engine() -> FakeEngine:
    tasks = [f"task={i:05d}" for i in range(N)]
    runs = []
    for i, task in enumerate(tasks):
        state = RunState.RUNNING if i < 50 else RunState.DONE if i < 2000 else RunState.QUEUED
        runs.append(
            RunView(
                task=task,
                stage="work",
                attempt=1 if state != RunState.QUEUED else 0,
                state=state,
                priority=0,
                log="",
                started_at=NOW - 10 if state != RunState.QUEUED else None,
                ended_at=NOW - 5 if state == RunState.DONE else None,
                order=i,
            )
        )
    return FakeEngine("big", [("work", 50, False, 5.0), ("next", 4, False, None)], runs, tasks)


async def test_ten_thousand_runs_stay_cheap(in_tmp: Path) -> None:
    engine = big_engine()
    app = CoopyApp(engine, clock=fixed_clock, refresh_interval=0.1)
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        load = time.perf_counter() - started
        table = app.panel.table
        assert table.row_count == N

        # a burst: every queued run changes priority (8,000 events), as fast as the engine can emit
        queued = [r for r in engine.runs.values() if r.state == RunState.QUEUED]
        repaints_before = app.repaints
        t0 = time.perf_counter()
        for r in queued:
            new = dataclasses.replace(r, priority=1)
            engine.runs[(r.task, r.stage)] = new
            engine.emit(EventKind.RUN, run=new, stage=engine.stages["work"])
        emit = time.perf_counter() - t0
        assert app.repaints == repaints_before  # callbacks only recorded what changed

        t0 = time.perf_counter()
        app.repaint()
        table.flush_sort(force=True)
        repaint = time.perf_counter() - t0
        await pilot.pause()
        painted = time.perf_counter() - t0

        # a few changes: what a steady pipeline sends each tenth of a second
        t0 = time.perf_counter()
        for r in queued[:20]:
            new = dataclasses.replace(engine.runs[(r.task, r.stage)], state=RunState.RUNNING, started_at=NOW)
            engine.emit(EventKind.RUN, run=new, stage=engine.stages["work"])
        app.repaint()
        table.flush_sort(force=True)
        await pilot.pause()
        small = time.perf_counter() - t0
        await wait_for(pilot, lambda: table.shown_tasks()[50] == queued[0].task, what="the re-sorted rows")

    print(
        f"\n10k runs: mount+load {load:.2f}s; 8000 events recorded in {emit * 1000:.0f}ms "
        f"({emit / len(queued) * 1e6:.1f}us each); one repaint applying them {repaint * 1000:.0f}ms "
        f"(+ paint: {painted * 1000:.0f}ms); 20 changes repaint+paint {small * 1000:.0f}ms"
    )
    assert emit < 1.0
    assert repaint < 5.0
    assert small < 1.0
