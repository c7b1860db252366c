"""Slurm runs in the UI: the row shows the job and Slurm's state + reason instead of the last log line;
the log pane's title names the job and the resources (GPU ids) the run holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coopy_core.model import EventKind, RunState, RunView
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_view import LogView
from coopy_tui.widgets.run_table import resources_text, slurm_text
from tests.helpers.tui import NOW, FakeEngine, fixed_clock, settle, wait_for, write_log

TASK = "model=big,seed=1"


def slurm_run(root: Path, reason: str) -> RunView:
    log = write_log(root, "train", TASK, 1, ["sbatch: Submitted batch job 123", "epoch 1: loss 0.9"])
    return RunView(
        task=TASK,
        stage="train",
        attempt=1,
        state=RunState.RUNNING,
        priority=0,
        reason=reason,
        log=log,
        started_at=NOW - 30,
        job_id="123",
        order=0,
        resources={"gpus": ["0", "1"]},
    )


def test_slurm_and_resources_text() -> None:
    run = RunView("t", "s", 1, RunState.RUNNING, 0, job_id="77", reason="PENDING (Resources)")
    assert slurm_text(run) == "job 77: PENDING (Resources)"
    assert slurm_text(dataclasses.replace(run, reason="")) == "job 77"
    assert slurm_text(dataclasses.replace(run, job_id=None)) == ""
    assert resources_text(dataclasses.replace(run, resources={"gpus": ["0", "1"], "mem": 4.0})) == "gpus 0,1  mem 4"
    assert resources_text(run) == ""


async def test_running_slurm_job_shows_its_state_and_resources(in_tmp: Path) -> None:
    run = slurm_run(in_tmp, "PENDING (Resources)")
    engine = FakeEngine("slurm", [("train", 2, False, None)], [run], [TASK])
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app)(pilot)
        table = app.panel.table
        # the row: the job and Slurm's state + reason, not the last log line
        assert table.row_text(TASK)[-1] == " job 123: PENDING (Resources)"
        screen_text = "\n".join(table.render_line(y).text for y in range(table.size.height))
        assert "job 123: PENDING (Resources)" in screen_text
        title = str(app.query_one("#log-tail", LogView).border_title)
        assert "job 123" in title and "gpus 0,1" in title

        # Slurm starts the job: the engine sends the new reason, the row follows
        started = dataclasses.replace(run, reason="RUNNING")
        engine.runs[(TASK, "train")] = started
        engine.emit(EventKind.RUN, run=started, stage=engine.stages["train"])
        await wait_for(pilot, lambda: table.row_text(TASK)[-1] == " job 123: RUNNING", what="RUNNING")
        await settle(app)(pilot)
        screen_text = "\n".join(table.render_line(y).text for y in range(table.size.height))
        assert "job 123: RUNNING" in screen_text

        # once it ended, the row shows its last log line again and the title drops job and GPUs
        done = dataclasses.replace(started, state=RunState.DONE, reason="", ended_at=NOW, exit_code=0)
        engine.runs[(TASK, "train")] = done
        engine.emit(EventKind.RUN, run=done, stage=engine.stages["train"])
        await wait_for(pilot, lambda: table.row_text(TASK)[-1] == " epoch 1: loss 0.9", what="the last line")
        await wait_for(pilot, lambda: "job" not in str(app.query_one("#log-tail", LogView).border_title))
        assert "gpus" not in str(app.query_one("#log-tail", LogView).border_title)


async def test_a_flood_of_failures_becomes_a_few_toasts(demo: FakeEngine, monkeypatch) -> None:  # noqa: ANN001
    """At most 3 failure toasts per window; the rest wait and come as one summary (a flood costs no layouts)."""
    import coopy_tui.app as app_module

    monkeypatch.setattr(app_module, "NOTIFY_WINDOW", 0.5)
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app)(pilot)
        shown: list[tuple[str, str]] = []
        notify = app.notify

        def record(message: str, *, title: str = "", **kw: object) -> None:
            shown.append((title, message))
            notify(message, title=title, **kw)  # type: ignore[arg-type]

        app.notify = record  # type: ignore[method-assign]

        def fail(n: int) -> None:
            for i in range(n):
                demo.emit(EventKind.MESSAGE, message=f"train/x attempt {i} failed: exit code 1", level="warning")
            app.repaint()

        fail(2)
        assert [title for title, _ in shown] == ["Run failed, will retry"] * 2
        fail(5)  # one slot left: the five come as one summary
        assert len(shown) == 3 and shown[-1][0] == "Many failures" and shown[-1][1].startswith("5 runs failed")
        fail(4)  # no room: they wait
        app.repaint()
        assert len(shown) == 3
        await wait_for(pilot, lambda: len(shown) == 4, what="the summary of the waiting ones")
        assert shown[-1][1].startswith("4 runs failed")
