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
        pane = app.query_one("#log-tail", LogView)
        assert "train/model=big,seed=1" in str(pane.border_title)
        assert "job 123" in str(pane.border_subtitle) and "gpus 0,1" in str(pane.border_subtitle)

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
        await wait_for(pilot, lambda: "job" not in str(pane.border_subtitle))
        assert "gpus" not in str(pane.border_subtitle)
