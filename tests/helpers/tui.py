"""For the TUI tests: a scripted engine for deterministic screens (real Snapshot / RunView / StageView
objects, a fixed clock), and waits between the app's turns under Textual's Pilot.

`FakeEngine` implements the `EngineClient` protocol over a fixed state; the
stage commands (pause, workers) change it and emit events like the real engine,
so snapshot tests can press keys. Log files live under a relative `logs/`
folder (tests chdir into a tmp dir), so no tmp path can reach a screenshot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from coopy_core.engine import CommandError
from coopy_core.model import Event, EventKind, RunState, RunView, Snapshot, StageView

NOW = 1_700_000_000.0
TASKS = [f"model={m},seed={s}" for m in ("mlp", "cnn", "resnet") for s in (1, 2)]


def fixed_clock() -> float:
    return NOW


def counts(runs: list[RunView], stage: str, total: int = 0) -> dict[str, int]:
    """As the engine counts them: runs not there yet are waiting (for what they need)."""
    out = {s.value: 0 for s in RunState}
    for r in runs:
        if r.stage == stage:
            out[r.state.value] += 1
    if total:
        out["waiting"] += max(0, total - sum(out.values()))
    return out


class FakeEngine:
    """Just enough engine for screenshots: a fixed pipeline, stage commands, scripted events."""

    def __init__(
        self, pipeline: str, stages: list[tuple[str, int, bool, float | None]], runs: list[RunView], tasks: list[str]
    ) -> None:
        self.pipeline = pipeline
        self.tasks = list(tasks)
        self.runs = {(r.task, r.stage): r for r in runs}
        self.stages = {
            name: StageView(
                name,
                i,
                workers,
                paused,
                counts(runs, name, len(tasks)),
                mean,
                total=len(tasks),
                needs=(stages[i - 1][0],) if i else (),
            )
            for i, (name, workers, paused, mean) in enumerate(stages)
        }
        self.seq = 10
        self.subscribers: list[Callable[[Event], None]] = []
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.history: list[dict[str, Any]] = []  # ended attempts, as Engine.attempt_history gives them

    # -- reading
    def snapshot(self) -> Snapshot:
        return Snapshot(
            seq=self.seq,
            pipeline=self.pipeline,
            tasks=tuple(self.tasks),
            stages=tuple(self.stages.values()),
            runs=tuple(sorted(self.runs.values(), key=lambda r: r.order)),
        )

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def emit(self, kind: EventKind, **kw: Any) -> None:
        self.seq += 1
        event = Event(seq=self.seq, kind=kind, time=NOW, **kw)
        for cb in list(self.subscribers):
            cb(event)

    def _stage_changed(self, name: str, **changes: Any) -> None:
        self.stages[name] = dataclasses.replace(self.stages[name], **changes)
        self.emit(EventKind.STAGE, stage=self.stages[name])

    # -- commands
    def pause(self, stage: str) -> None:
        self.calls.append(("pause", (stage,)))
        self._stage_changed(stage, paused=True)

    def resume(self, stage: str) -> None:
        self.calls.append(("resume", (stage,)))
        self._stage_changed(stage, paused=False)

    def toggle_pause(self, stage: str) -> bool:
        paused = not self.stages[stage].paused
        (self.pause if paused else self.resume)(stage)
        return paused

    def set_workers(self, stage: str, workers: int) -> None:
        self.calls.append(("set_workers", (stage, workers)))
        if workers < 1:
            raise CommandError(f"workers must be a whole number >= 1, got {workers!r}")
        self._stage_changed(stage, workers=workers)

    def add_workers(self, stage: str, delta: int) -> int:
        self.calls.append(("add_workers", (stage, delta)))
        workers = max(1, self.stages[stage].workers + delta)
        self._stage_changed(stage, workers=workers)
        return workers

    def attempt_history(self, stage: str, task: str | None = None) -> list[dict[str, Any]]:
        return [h for h in self.history if h["stage"] == stage and (task is None or h["task"] == task)]

    def retry_failed(self, stage: str | None = None) -> int:
        return int(self._refuse("retry_failed", stage))

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None:
        self._refuse("set_pool", name, size)

    def _refuse(self, name: str, *args: Any) -> Any:
        self.calls.append((name, args))
        raise CommandError(f"{name} is not scripted in this fake")

    def bump(self, task: str, stage: str, delta: int = 1) -> int:
        return int(self._refuse("bump", task, stage, delta))

    def top(self, task: str, stage: str) -> int:
        return int(self._refuse("top", task, stage))

    def retry(self, task: str, stage: str) -> None:
        self._refuse("retry", task, stage)

    def cancel(self, task: str, stage: str) -> None:
        self._refuse("cancel", task, stage)

    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str:
        return str(self._refuse("add_task", params, name))

    def queue_order(self, stage: str) -> list[str]:
        queued = [r for r in self.runs.values() if r.stage == stage and r.state == RunState.QUEUED]
        return [r.task for r in sorted(queued, key=lambda r: (-r.priority, r.order))]

    @property
    def task_count(self) -> int:
        return len(self.tasks)


def _log(stage: str, task: str, attempt: int) -> str:
    return f"logs/{stage}/{task}.{attempt}.log"


def write_log(root: Path, stage: str, task: str, attempt: int, lines: list[str]) -> str:
    rel = _log(stage, task, attempt)
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return rel


def one_queued_stage(stage: str, tasks: list[str]) -> FakeEngine:
    """One stage (two workers) whose runs are all queued."""
    runs = [RunView(t, stage, 0, RunState.QUEUED, 0, order=i) for i, t in enumerate(tasks)]
    return FakeEngine("p", [(stage, 2, False, None)], runs, list(tasks))


def end_with_log(engine: FakeEngine, root: Path, stage: str, task: str, lines: list[str]) -> None:
    """The run ends done after attempt 1, its log holding `lines`, as the engine's event says it."""
    log = write_log(root, stage, task, 1, lines)
    done = dataclasses.replace(
        engine.runs[(task, stage)], state=RunState.DONE, attempt=1, log=log, exit_code=0, started_at=1.0
    )
    engine.runs[(task, stage)] = done
    engine.emit(EventKind.RUN, run=done)


def demo_engine(root: Path, failed: bool = False) -> FakeEngine:
    """The demo pipeline (3 models x 2 seeds, prepare -> train -> evaluate) caught mid-run.

    With `failed`, resnet seed=2 has failed training for good (out of memory, 3 attempts).
    """
    runs: list[RunView] = []
    order = 0

    def add(
        task: str,
        stage: str,
        state: RunState,
        attempt: int = 1,
        started: float | None = None,
        ended: float | None = None,
        priority: int = 0,
        exit_code: int | None = None,
        reason: str = "",
        not_before: float | None = None,
        log: list[str] | None = None,
    ) -> None:
        nonlocal order
        path = write_log(root, stage, task, max(attempt, 1), log or []) if attempt else ""
        runs.append(
            RunView(
                task=task,
                stage=stage,
                attempt=attempt,
                state=state,
                priority=priority,
                exit_code=exit_code,
                reason=reason,
                log=path,
                started_at=started,
                ended_at=ended,
                not_before=not_before,
                pid=None,
                job_id=None,
                order=order,
            )
        )
        order += 1

    def prep_log(task: str) -> list[str]:
        return [f"prepare {task}: step {i}/5" for i in range(1, 6)] + [f"wrote demo/out/{task}/data.json"]

    def train_log(task: str, epochs: int) -> list[str]:
        out = []
        for e in range(1, epochs + 1):
            out += [f"train {task} epoch {e}/6: step 1/1", f"epoch {e}: loss {1.0 / (e + 0.1):.3f}"]
        return out

    t = NOW
    # prepare: four done, two running (with `failed`: five done, one running)
    done = TASKS[:4] + ([TASKS[5]] if failed else [])
    for i, task in enumerate(done):
        add(
            task,
            "prepare",
            RunState.DONE,
            started=t - 60 + i * 2,
            ended=t - 58 + i * 2,
            exit_code=0,
            log=prep_log(task),
        )
    for task in TASKS[4:]:
        if task not in done:
            add(task, "prepare", RunState.RUNNING, started=t - 2, log=prep_log(task)[:3])
    # train
    add(
        TASKS[0],
        "train",
        RunState.DONE,
        started=t - 40,
        ended=t - 34,
        exit_code=0,
        log=[*train_log(TASKS[0], 6), f"wrote demo/out/{TASKS[0]}/model.json"],
    )
    add(TASKS[1], "train", RunState.RUNNING, started=t - 12, log=train_log(TASKS[1], 3))
    add(TASKS[2], "train", RunState.RUNNING, started=t - 5, log=train_log(TASKS[2], 1))
    add(
        TASKS[3],
        "train",
        RunState.QUEUED,
        attempt=1,
        priority=1,
        exit_code=1,
        started=t - 9,
        ended=t - 1,
        reason="exit code 1; retry 1/2 in 2s",
        not_before=t + 1,
        log=[f"train {TASKS[3]} epoch: step 1/2", "CUDA out of memory (simulated): the retry will succeed"],
    )
    if failed:
        add(
            TASKS[5],
            "train",
            RunState.FAILED,
            attempt=3,
            started=t - 8,
            ended=t - 3,
            exit_code=1,
            reason="exit code 1",
            log=[
                f"train {TASKS[5]} epoch: step 1/2",
                "Traceback (most recent call last):",
                '  File "demo/train.py", line 14, in <module>',
                "RuntimeError: CUDA out of memory (simulated)",
            ],
        )
    # evaluate
    add(TASKS[0], "evaluate", RunState.RUNNING, started=t - 1, log=[f"evaluate {TASKS[0]}: step 1/3"])
    return FakeEngine(
        "demo",
        [("prepare", 3, False, 2.0), ("train", 2, False, 6.0), ("evaluate", 2, False, None)],
        runs,
        TASKS,
    )


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def burst(app: Any, key: str, times: int, character: str | None = None) -> None:
    """`times` presses of `key` arriving at once, as a terminal delivers a held-down key or a fast
    typist's keys in one read: queued together, before the app handles the first (the Pilot's `press`
    waits for the app to go idle after each key, which no terminal does)."""
    from textual import events

    for _ in range(times):
        event = events.Key(key, character)
        event.set_sender(app)
        app._driver.send_message(event)


# ------------------------------------------------------------------ waiting under the Pilot
async def wait_for(pilot: object, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll `condition` between app turns; generous deadline, no fixed sleeps."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


def settle(app: object) -> Callable[[object], Awaitable[None]]:
    """A `run_before` for snap_compare: wait until the app has read its logs and painted everything."""

    async def run_before(pilot: object) -> None:
        await wait_for(pilot, app.settled, what="the app to settle")  # type: ignore[attr-defined]
        app.repaint()  # type: ignore[attr-defined]
        await pilot.pause()  # type: ignore[attr-defined]

    return run_before
