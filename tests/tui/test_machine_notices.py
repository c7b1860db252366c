"""When the machine runs short the TUI says so: a state disk that fills up and frees (a real tmpfs under a real
engine) is a "State store" notification each way, and a start the machine refuses is a "Cannot start runs now"
notification with the reason on the run's row."""

from __future__ import annotations

from pathlib import Path

from coopy_core import Engine, RunState, load_config
from coopy_tui.app import CoopyApp
from tests.helpers.engine import write_config
from tests.helpers.machine import descriptors_exhausted, fill, small_disk
from tests.helpers.tui import wait_for


def _config(tmp: Path) -> Path:
    return write_config(
        tmp,
        """
        [pipeline]
        poll_interval = 0.2
        [tasks.matrix]
        i = [1, 2, 3]
        [[stages]]
        name = "first"
        workers = 1
        command = ["sleep", "0.5"]
        """,
    )


async def test_a_full_state_disk_is_a_notification_both_ways(tmp_path: Path) -> None:
    with small_disk(tmp_path / ".coopy") as state:
        engine = Engine(load_config(_config(tmp_path)))
        await engine.start()
        try:
            app = CoopyApp(engine)
            async with app.run_test(size=(120, 40), notifications=True) as pilot:
                filler = fill(state)
                await wait_for(
                    pilot,
                    lambda: any(n.title == "State store" and n.severity == "error" for n in app._notifications),
                    timeout=30,
                    what="the full store",
                )
                full = next(n for n in app._notifications if n.title == "State store")
                assert "cannot be written" in full.message and "disk is full" in full.message
                filler.unlink()
                await wait_for(
                    pilot,
                    lambda: any("can be written again" in n.message for n in app._notifications),
                    timeout=30,
                    what="the store back",
                )
                await wait_for(pilot, lambda: engine.finished, timeout=30, what="the pipeline to go on and finish")
        finally:
            await engine.shutdown(stop_running=True)


async def test_a_refused_start_is_a_notification_and_the_row_says_why(tmp_path: Path) -> None:
    engine = Engine(load_config(_config(tmp_path)))
    await engine.start()
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: engine.finished, timeout=30, what="the first runs")
            with descriptors_exhausted():
                engine.add_task({"i": 4}, name="i=4")
                await wait_for(
                    pilot,
                    lambda: any(n.title == "Cannot start runs now" for n in app._notifications),
                    timeout=30,
                    what="the refusal",
                )
                table = app.panel.table
                await wait_for(
                    pilot,
                    lambda: "Too many open files" in table.row_text("i=4")[-1],
                    timeout=10,
                    what="the reason on the row",
                )
                assert "not counted as a failure" in table.row_text("i=4")[-1]
            await wait_for(pilot, lambda: engine.finished, timeout=30, what="the run, once descriptors are free")
        run = next(r for r in engine.snapshot().runs if r.task == "i=4")
        assert (run.state, run.attempt) == (RunState.DONE, 1)
    finally:
        await engine.shutdown(stop_running=True)
