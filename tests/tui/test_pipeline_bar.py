"""The top bar's progress agrees with `coopy status`, after failures and after a cancel (issue 14, defect 3)."""

from __future__ import annotations

from pathlib import Path

from coopy_core.report.status import read_status
from coopy_tui.app import CoopyApp
from tests.helpers.tui import screen_text, settle, wait_for
from tests.helpers.tui_pipelines import grid_config, started, write

# train fails for good for lr in FAIL (a last line of its own in the log), fails once for lr=1


# ====================================================================== 3. progress lies at the end
async def test_3_progress_after_failures_agrees_with_coopy_status(tmp_path: Path) -> None:
    path = grid_config(tmp_path, "[1, 2, 3, 4, 5]", "2 4", retries=0)
    engine = await started(path)
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: engine.finished, what="the pipeline to finish")
            await wait_for(
                pilot,
                lambda: any(n.title == "Pipeline finished" for n in app._notifications),
                what="the finished toast",
            )
            await settle(app)(pilot)
            text = screen_text(app)
            top = text.splitlines()[0]
            # lr=2 and 4 fail, and lr=1 (its first attempt, with no retry): 3 failed, 3 evaluations blocked
            assert "finished: 3 failed, 3 blocked" in top and "ETA" not in top
            toast = next(n for n in app._notifications if n.title == "Pipeline finished")
            assert toast.message.startswith("finished: 3 failed, 3 blocked")  # the same words as the top bar
            status = {s["name"]: s for s in read_status(engine.config)["stages"]}
            assert status["train"]["counts"]["failed"] == 3 and status["evaluate"]["counts"]["blocked"] == 3
            for panel in app.panels:
                counts = status[panel.stage]["counts"]
                header = panel.header.bar_text(60).plain + " " + panel.header.counts_text(60).plain
                done = counts["done"] + counts["skipped"]
                assert f" {done}/{status[panel.stage]['total']} " in header, header
                assert "ETA" not in header, header
                assert not panel.header.bar_text(60).plain.rstrip().endswith("done"), f"{panel.stage}: {header}"
                assert f"failed {counts['failed']}" in header
                if counts["blocked"]:
                    assert f"blocked {counts['blocked']}" in header
    finally:
        await engine.shutdown(stop_running=True)


async def test_3_after_a_cancel_the_top_bar_and_the_toast_say_the_same(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        command = ["sleep", "0.5"]
        workers = 1
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            table = app.panel.table
            await wait_for(pilot, lambda: "x=3" in table.shown_tasks(), what="the rows")
            while table.selected_task != "x=3":
                await pilot.press("j")
            await pilot.press("c", "y")
            await wait_for(pilot, lambda: engine.finished, what="the pipeline to finish")
            await wait_for(
                pilot,
                lambda: any(n.title == "Pipeline finished" for n in app._notifications),
                what="the finished toast",
            )
            await settle(app)(pilot)
            top = screen_text(app).splitlines()[0]
            toast = next(n for n in app._notifications if n.title == "Pipeline finished")
            assert "finished: 1 cancelled" in top
            assert toast.message.startswith("finished: 1 cancelled")
            assert "cancelled 1" in app.panel.header.counts_text(80).plain
    finally:
        await engine.shutdown(stop_running=True)
