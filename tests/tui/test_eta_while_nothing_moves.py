"""ETAs that do not lie (issue 24, defect 3): a stage downstream of a paused one says it waits on the pause
(its `ETA 2m59s` stayed frozen), and a fresh start gives no ETA until enough runs of every stage with work
left have ended (one quick run of the first stage said `ETA 2s+` of a five-minute pipeline); durations
stored from earlier attempts count."""

from __future__ import annotations

from pathlib import Path

from coopy_core.model import RunState, RunView, StageView
from coopy_tui.app import CoopyApp
from coopy_tui.format import estimates, pipeline_eta_text, stage_status
from tests.helpers.tui import FakeEngine, fixed_clock, settle, wait_for


def stage(
    name: str, index: int, counts: dict[str, int], mean: float | None, needs: tuple[str, ...] = (), **kw: object
) -> StageView:
    full = {s.value: 0 for s in RunState}
    full.update(counts)
    runs = kw.get("runs", 10)
    assert isinstance(runs, int)
    return StageView(name, index, 2, bool(kw.get("paused")), full, mean, total=runs, needs=needs)


def test_a_fresh_start_gives_no_eta_from_the_first_stages_quick_runs() -> None:
    prepare = stage("prepare", 0, {"done": 2, "running": 2, "queued": 6}, 2.0)
    train = stage("train", 1, {"running": 2, "waiting": 8}, None, ("prepare",))
    evaluate = stage("evaluate", 2, {"waiting": 10}, None, ("train",))
    views = [prepare, train, evaluate]
    assert pipeline_eta_text(views, 10) == "ETA --"  # was `ETA 8s+`
    each = estimates(views, 10)
    assert stage_status(prepare, 10, estimate=each["prepare"]) == "ETA 8s"
    assert stage_status(train, 10, estimate=each["train"]) == "ETA --"


def test_one_run_done_is_not_enough_two_are() -> None:
    one = stage("train", 0, {"done": 1, "queued": 9}, 2.0)
    assert pipeline_eta_text([one], 10) == "ETA --"
    two = stage("train", 0, {"done": 2, "queued": 8}, 2.0)
    assert pipeline_eta_text([two], 10) == "ETA 8s"  # 8 left, 2 at a time, 2 s each


def test_durations_stored_from_an_earlier_session_give_an_eta_at_once() -> None:
    """Runs done before this start are counted (and their durations are in the mean, see
    engine/reconcile.py): a second session of a sweep has an ETA before any run of it ended."""
    train = stage("train", 0, {"done": 5, "queued": 5}, 60.0)
    evaluate = stage("evaluate", 1, {"done": 5, "waiting": 5}, 30.0, ("train",))
    assert pipeline_eta_text([train, evaluate], 10) == "ETA 3m30s"  # train: 3 rounds of 60 s; then one eval


def test_a_stage_ends_no_sooner_than_what_it_needs_plus_one_run() -> None:
    train = stage("train", 0, {"done": 4, "running": 2, "queued": 4}, 60.0)  # 6 left: 3 rounds, 3m
    evaluate = stage("evaluate", 1, {"done": 4, "waiting": 6}, 10.0, ("train",))  # alone: 30 s
    each = estimates([train, evaluate], 10)
    assert each["train"].seconds == 180.0
    assert each["evaluate"].seconds == 190.0
    assert pipeline_eta_text([train, evaluate], 10) == "ETA 3m10s"


def test_a_final_stage_not_started_gives_a_floor_not_a_blank() -> None:
    """A sweep ending in one report run: the report cannot be timed before it ran, yet the pipeline ends
    no sooner than what it waits on (it said `ETA --` for the whole sweep); once it runs untimed, `--`."""
    train = stage("train", 0, {"done": 4, "running": 2, "queued": 4}, 60.0)
    report = stage("report", 1, {"waiting": 1}, None, ("train",), runs=1)
    each = estimates([train, report], 10)
    assert stage_status(report, 10, estimate=each["report"]) == "ETA 3m00s+"
    assert pipeline_eta_text([train, report], 10) == "ETA 3m00s+"
    running = stage("report", 1, {"running": 1}, None, ("train",), runs=1)
    done = stage("train", 0, {"done": 10}, 60.0)
    assert pipeline_eta_text([done, running], 10) == "ETA --"  # started, not timed: no number


def test_downstream_of_a_paused_stage_says_what_it_waits_on() -> None:
    prepare = stage("prepare", 0, {"done": 10}, 1.0)
    train = stage("train", 1, {"done": 4, "queued": 6}, 60.0, ("prepare",), paused=True)
    evaluate = stage("evaluate", 2, {"done": 4, "waiting": 6}, 30.0, ("train",))
    report = stage("report", 3, {"done": 2, "waiting": 8}, 5.0, ("evaluate",))
    views = [prepare, train, evaluate, report]
    each = estimates(views, 10)
    assert stage_status(train, 10, estimate=each["train"]) == "ETA paused"
    assert stage_status(evaluate, 10, estimate=each["evaluate"]) == "ETA -- (train paused)"  # was ETA 1m30s
    assert stage_status(report, 10, estimate=each["report"]) == "ETA -- (train paused)"  # two stages down
    assert stage_status(prepare, 10, estimate=each["prepare"]) == "done"
    assert pipeline_eta_text(views, 10) == "ETA -- (train paused)"


def test_a_paused_stage_with_nothing_left_holds_nothing() -> None:
    train = stage("train", 0, {"done": 10}, 60.0, paused=True)
    evaluate = stage("evaluate", 1, {"done": 4, "queued": 6}, 30.0, ("train",))
    assert pipeline_eta_text([train, evaluate], 10) == "ETA 1m30s"


# ---------------------------------------------------------------- on the screen
TASKS = [f"x={i}" for i in range(6)]


def sweep() -> FakeEngine:
    """train: two done, four queued (60 s each); evaluate: two done (30 s each), four waiting on train."""
    runs = []
    for i, task in enumerate(TASKS):
        done = i < 2
        train_state = RunState.DONE if done else RunState.QUEUED
        runs.append(RunView(task, "train", 1 if done else 0, train_state, 0, order=i))
        if done:
            runs.append(RunView(task, "evaluate", 1, RunState.DONE, 0, order=10 + i))
    return FakeEngine("sweep", [("train", 2, False, 60.0), ("evaluate", 2, False, 30.0)], runs, TASKS)


async def test_pausing_a_stage_shows_its_downstream_waiting_on_the_pause(in_tmp: Path) -> None:
    engine = sweep()
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app)(pilot)
        evaluate = next(p for p in app.panels if p.stage == "evaluate")
        bar = app.pipeline_bar

        def eval_line() -> str:
            return evaluate.header.bar_text(100).plain

        assert "ETA 2m30s" in eval_line(), eval_line()  # train's 2 rounds of 60 s, then one of 30 s
        assert "ETA 2m30s" in str(bar.render())
        assert app.panel.stage == "train"
        await pilot.press("p")
        await wait_for(pilot, lambda: "ETA -- (train paused)" in eval_line(), what="evaluate waits on the pause")
        assert "ETA paused" in app.panel.header.bar_text(100).plain
        await wait_for(pilot, lambda: "ETA -- (train paused)" in str(bar.render()), what="the pipeline's ETA")
        await pilot.press("p")
        await wait_for(pilot, lambda: "ETA 2m30s" in eval_line(), what="the ETA back after the resume")
