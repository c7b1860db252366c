"""`python -m bench.tui_load [--quick]`: the TUI under load, measured headless (issue 5's last target).

Targets (issue 18): with 10,000 runs in the engine and 200 events a second, keypress-to-repaint
p95 <= 30 ms and idle CPU <= 1 %; with 100,000 runs (every stage ten times larger, same caps, same
event rate, same keys), p95 <= 50 ms.

Set-up. A fake engine (`LoadEngine`, an `EngineClient` built from real Snapshot / RunView / StageView /
Event objects) holds 10,000 runs of a 5,000-configuration pipeline caught mid-run: prepare 5,000 runs
(32 running), train 3,000 (16 running, Slurm jobs), evaluate 2,000 (8 running). Every run that started
has a log file. `CoopyApp` runs under Textual's headless driver (`App.run_test`, 160 x 48 cells: the
three stages side by side, so three tables paint) with the real clock (elapsed times tick). While
loaded, an asyncio task emits 200 RUN events a second spread over the runs, each handed to the
subscriber as its own loop callback as `RemoteEngine` does: a run ends (done, or failed and queued for
a retry with a warning) and the next queued one starts; a queued run is bumped; a Slurm job's state
changes (`PENDING (Resources)` -> `RUNNING`). Each event carries the stage's new counts. Running runs'
logs also grow (50 lines a second, no event). The run count stays 10,000 (no hand-offs).

Phases: mount and wait until the app settled (every log read); (b) idle: NO events for 10 s, CPU =
process CPU time (every thread: `time.process_time`) / wall time; CPU again at 200 events a second, no
keys; (a) keys under load: >= 200 presses, paced 30-120 ms apart (random, seeded), of a fixed mix:
j/k moves, tab / shift+tab between stages, `/` then typing a filter and esc, and +/- (engine commands).

Keypress-to-repaint. A key is sent as the terminal driver sends it (`driver.send_message(Key)`, what
`pilot.press` does minus its idle waits, which would dominate the number), stamped just before. The
app's main screen is instrumented: every compositor refresh (`Screen._compositor_refresh`, where
Textual renders the dirty regions into a frame) checks whether the key has taken effect (moves and
stage keys: the app's action returned; +/-: the action returned AND the bumped run's new priority,
which comes back as an engine event, is in its table; filter typing: the tables hold the typed
filter; esc: the filter is cleared and the list has focus) and whether the widget it changed is in
that frame (in the frame's dirty widgets, or the frame follows a layout). A typed filter character
is shown when the filter bar with it is drawn, and, when the key changed which rows show, the list
too, in the same frame (a letter that keeps the same rows, `se` after `s`, changes only the bar). The
latency is the time from the stamp to the END of the first such frame. The headless driver skips encoding a frame as
escape sequences; the bench does that encoding too (`CompositorUpdate.render_segments`) and throws
the text away, so the number includes what a real terminal frame costs in Python. Not included: the
terminal's own drawing, the OS's pipe.
The JSON also lists the slowest presses and how many full garbage-collector passes ran meanwhile.

`run(quick)` is what `bench/__main__.py` imports; its `targets` rows have the main benchmark's shape.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import gc
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coopy_core.errors import CoopyError
from coopy_core.model import Event, EventKind, RunState, RunView, Snapshot, StageView

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 30.0  # at 10,000 runs
TARGET_P95_100K_MS = 50.0  # at 100,000 runs
TARGET_IDLE_CPU_PCT = 1.0
MODELS = ("mlp", "cnn", "resnet18", "resnet50", "vit", "gru", "lstm", "tcn", "unet", "bert")
LRS = ("0.1", "0.03", "0.01", "0.003", "0.001", "0.0003", "0.0001", "3e-05", "1e-05", "3e-06")
# name, cap, runs, passed (done or skipped, a few failed / cancelled), Slurm
STAGES: tuple[tuple[str, int, int, int, bool], ...] = (
    ("prepare", 32, 5000, 3000, False),
    ("train", 16, 3000, 2000, True),
    ("evaluate", 8, 2000, 1200, False),
)
SLURM_STATES = ("PENDING (Priority)", "PENDING (Resources)", "RUNNING", "RUNNING")
# the key mix: (key, kind); one cycle is 30 presses, the filter part of it typed into the filter bar
KEY_CYCLE: tuple[tuple[str, str], ...] = (
    *(("j", "move"),) * 4,
    ("k", "move"),
    ("k", "move"),
    ("j", "move"),
    ("tab", "stage"),
    ("j", "move"),
    ("j", "move"),
    ("k", "move"),
    ("plus", "command"),
    ("minus", "command"),
    ("tab", "stage"),
    ("j", "move"),
    ("plus", "command"),
    ("shift+tab", "stage"),
    ("shift+tab", "stage"),
    ("k", "move"),
    ("j", "move"),
    ("slash", "filter"),
    *((c, "filter") for c in "seed=42"),
    ("escape", "filter"),
)
ACTIONS = {
    "j": "cursor_down",
    "k": "cursor_up",
    "tab": "next_stage",
    "shift+tab": "prev_stage",
    "plus": "raise_priority",
    "minus": "lower_priority",
    "slash": "filter",
}


def task_names(n: int) -> list[str]:
    return [f"model={MODELS[i % 10]},lr={LRS[i // 10 % 10]},seed={i // 100}" for i in range(n)]


class LoadEngine:
    """An EngineClient over a scripted pipeline: real views and events, commands that change it."""

    def __init__(self, root: Path, seed: int = 5, scale: int = 1) -> None:
        """`scale` multiplies every stage's runs (10,000 runs at 1); caps stay."""
        self.rng = random.Random(seed)
        self.root = root
        self._dirs: set[Path] = set()
        now = time.time()
        stages = [(name, cap, count * scale, passed * scale, slurm) for name, cap, count, passed, slurm in STAGES]
        n = max(s[2] for s in stages)
        self.tasks = task_names(n)
        self.runs: dict[tuple[str, str], RunView] = {}
        self.stage_names = [s[0] for s in STAGES]
        self.caps = {s[0]: s[1] for s in STAGES}
        self.counts: dict[str, Counter[str]] = {s[0]: Counter() for s in STAGES}
        self.queued: dict[str, deque[str]] = {s[0]: deque() for s in STAGES}
        self.running: dict[str, list[str]] = {s[0]: [] for s in STAGES}
        self.slurm = {s[0]: s[4] for s in STAGES}
        self.job_ids = iter(range(1_000_000, 10_000_000))
        order = 0
        for name, cap, count, passed, _slurm in stages:
            for i, task in enumerate(self.tasks[:count]):
                if i < passed:
                    state = RunState.FAILED if i % 97 == 5 else RunState.CANCELLED if i % 211 == 7 else RunState.DONE
                    started = now - 3600 + i * 0.5
                    run = RunView(
                        task,
                        name,
                        1,
                        state,
                        0,
                        exit_code=0 if state == RunState.DONE else 1,
                        reason="" if state == RunState.DONE else "exit code 1",
                        log=self._log(name, task, 1),
                        started_at=started,
                        ended_at=started + 30,
                        order=order,
                    )
                    self._write_log(run, [f"{name} {task}: step {k}/5" for k in range(1, 6)])
                elif i < passed + cap:
                    run = self._started(
                        RunView(task, name, 0, RunState.QUEUED, 0, order=order), now - self.rng.uniform(1, 900)
                    )
                    self.running[name].append(task)
                else:
                    run = RunView(task, name, 0, RunState.QUEUED, 0, order=order)
                    self.queued[name].append(task)
                self.runs[(task, name)] = run
                self.counts[name][run.state.value] += 1
                order += 1
        self.order = order
        self.seq = 100
        self.subscribers: list[Callable[[Event], None]] = []
        self.workers = dict(self.caps)
        self.paused = dict.fromkeys(self.stage_names, False)
        self.events = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ helpers
    def _log(self, stage: str, task: str, attempt: int) -> str:
        return str(self.root / stage / f"{task}.{attempt}.log")

    def _write_log(self, run: RunView, lines: list[str]) -> None:
        path = Path(run.log)
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        with open(path, "a") as f:
            f.write("".join(line + "\n" for line in lines))

    def _started(self, run: RunView, at: float) -> RunView:
        attempt = run.attempt + 1
        slurm = self.slurm[run.stage]
        new = dataclasses.replace(
            run,
            state=RunState.RUNNING,
            attempt=attempt,
            started_at=at,
            ended_at=None,
            not_before=None,
            exit_code=None,
            reason=SLURM_STATES[0] if slurm else "",
            log=self._log(run.stage, run.task, attempt),
            job_id=str(next(self.job_ids)) if slurm else None,
            pid=None if slurm else 40_000 + run.order % 20_000,
            resources={"gpus": [str(run.order % 4)]} if run.stage == "train" else {},
        )
        self._write_log(new, [f"{run.stage} {run.task}: starting attempt {attempt}"])
        return new

    def stage_view(self, name: str) -> StageView:
        counts = {s.value: self.counts[name][s.value] for s in RunState}
        return StageView(name, self.stage_names.index(name), self.workers[name], self.paused[name], counts, 30.0)

    def _set(self, run: RunView) -> None:
        old = self.runs[(run.task, run.stage)]
        self.counts[run.stage][old.state.value] -= 1
        self.counts[run.stage][run.state.value] += 1
        self.runs[(run.task, run.stage)] = run
        self.emit(EventKind.RUN, run=run, stage=self.stage_view(run.stage))

    def emit(self, kind: EventKind, **kw: Any) -> None:
        """Hand the event to each subscriber as its own loop callback (what RemoteEngine's reader thread does)."""
        self.seq += 1
        self.events += kind == EventKind.RUN
        event = Event(seq=self.seq, kind=kind, time=time.time(), **kw)
        for cb in list(self.subscribers):
            if self.loop is not None:
                self.loop.call_soon(cb, event)
            else:
                cb(event)

    # ------------------------------------------------------------------ the load
    def random_event(self) -> None:
        """One step of a busy pipeline; emits one or two RUN events (plus now and then a warning)."""
        roll = self.rng.random()
        if roll < 0.15 and self.running["train"]:
            task = self.rng.choice(self.running["train"])
            run = self.runs[(task, "train")]
            nxt = SLURM_STATES[(SLURM_STATES.index(run.reason) + 1) % len(SLURM_STATES)] if run.reason else "RUNNING"
            self._set(dataclasses.replace(run, reason=nxt))
        elif roll < 0.40:
            stage = self.rng.choice(self.stage_names)
            if self.queued[stage]:
                task = self.rng.choice(self.queued[stage])
                run = self.runs[(task, stage)]
                self._set(dataclasses.replace(run, priority=run.priority + self.rng.choice((1, -1))))
        else:
            stage = self.rng.choices(self.stage_names, weights=[self.caps[s] for s in self.stage_names])[0]
            self.finish_and_start(stage)

    def finish_and_start(self, stage: str) -> None:
        now = time.time()
        if self.running[stage]:
            task = self.running[stage].pop(self.rng.randrange(len(self.running[stage])))
            run = self.runs[(task, stage)]
            if self.rng.random() < 0.05:
                reason = f"exit code 1; retry {run.attempt}/2 in 5s"
                self._set(
                    dataclasses.replace(
                        run,
                        state=RunState.QUEUED,
                        exit_code=1,
                        ended_at=now,
                        not_before=now + 5,
                        reason=reason,
                    )
                )
                self.queued[stage].append(task)
                self.emit(EventKind.MESSAGE, message=f"{stage}/{task} attempt {run.attempt} failed", level="warning")
            else:
                self._write_log(run, [f"wrote out/{task}/{stage}.json"])
                self._set(dataclasses.replace(run, state=RunState.DONE, exit_code=0, ended_at=now, reason=""))
        if self.queued[stage] and len(self.running[stage]) < self.workers[stage]:
            task = self.queued[stage].popleft()
            self._set(self._started(self.runs[(task, stage)], now))
            self.running[stage].append(task)

    def grow_a_log(self) -> None:
        stage = self.rng.choice(self.stage_names)
        if self.running[stage]:
            run = self.runs[(self.rng.choice(self.running[stage]), stage)]
            self._write_log(run, [f"epoch {self.rng.randrange(100)}: loss {self.rng.random():.4f}"])

    # ------------------------------------------------------------------ EngineClient
    def snapshot(self) -> Snapshot:
        return Snapshot(
            seq=self.seq,
            pipeline="load",
            tasks=tuple(self.tasks),
            stages=tuple(self.stage_view(s) for s in self.stage_names),
            runs=tuple(sorted(self.runs.values(), key=lambda r: r.order)),
        )

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def pause(self, stage: str) -> None:
        self.paused[stage] = True
        self.emit(EventKind.STAGE, stage=self.stage_view(stage))

    def resume(self, stage: str) -> None:
        self.paused[stage] = False
        self.emit(EventKind.STAGE, stage=self.stage_view(stage))

    def toggle_pause(self, stage: str) -> bool:
        (self.resume if self.paused[stage] else self.pause)(stage)
        return self.paused[stage]

    def set_workers(self, stage: str, workers: int) -> None:
        if workers < 1:
            raise CoopyError("workers must be >= 1")
        self.workers[stage] = workers
        self.emit(EventKind.STAGE, stage=self.stage_view(stage))

    def bump(self, task: str, stage: str, delta: int = 1) -> int:
        run = self.runs[(task, stage)]
        self._set(dataclasses.replace(run, priority=run.priority + delta))
        return run.priority + delta

    def top(self, task: str, stage: str) -> int:
        return self.bump(task, stage, 100)

    def retry(self, task: str, stage: str) -> None:
        raise CoopyError("not scripted")

    def cancel(self, task: str, stage: str) -> None:
        raise CoopyError("not scripted")

    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str:
        raise CoopyError("not scripted")

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None:
        raise CoopyError("not scripted")

    def queue_order(self, stage: str) -> list[str]:
        return list(self.queued[stage])

    @property
    def task_count(self) -> int:
        return len(self.tasks)


# ====================================================================== measuring frames
@dataclasses.dataclass
class Probe:
    """One key press waiting for the frame that shows it."""

    key: str
    kind: str
    sent: float
    ready: Callable[[], bool]
    target: Callable[[], tuple[Any, ...]]  # the widgets the key changes: all of them are in its frame
    future: asyncio.Future[float]


class FrameMeter:
    """Wraps the main screen's compositor refresh: counts frames, resolves key probes, encodes frames."""

    def __init__(self, app: Any) -> None:
        from textual._compositor import CompositorUpdate

        self.app = app
        self.screen = app.screen
        self.frames = 0
        self.frame_seconds = 0.0
        self.probe: Probe | None = None
        self._layout = False
        refresh, layout, display = self.screen._compositor_refresh, self.screen._refresh_layout, app._display

        def compositor_refresh() -> None:
            started = time.perf_counter()
            probe = self.probe
            hit = False
            if probe is not None and probe.ready():
                dirty = self.screen._dirty_widgets
                hit = self._layout or self.screen in dirty or all(w in dirty for w in probe.target())
            refresh()
            ended = time.perf_counter()
            self.frames += 1
            self.frame_seconds += ended - started
            if hit and probe is not None and not probe.future.done():
                self.probe = None
                probe.future.set_result(ended - probe.sent)

        def refresh_layout(*args: Any, **kwargs: Any) -> None:
            self._layout = True
            try:
                layout(*args, **kwargs)
            finally:
                self._layout = False

        def display_(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # what a terminal frame costs; the text is dropped

        self.screen._compositor_refresh = compositor_refresh
        self.screen._refresh_layout = refresh_layout
        app._display = display_


def key_event(key: str) -> Any:
    """The Key event a terminal driver would send for `key` (as Textual's pilot builds it)."""
    from textual import events
    from textual.keys import _character_to_key, _get_unicode_name_from_key

    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def cpu_share(wall: float, cpu: float) -> float:
    return round(100 * cpu / wall, 2) if wall > 0 else 0.0


# ====================================================================== the run
async def measure(quick: bool, logs: Path, rate: float, scale: int = 1) -> dict[str, Any]:
    from coopy_tui.app import CoopyApp
    from coopy_tui.widgets.filter_bar import FilterBar

    idle_s, load_s, presses = (2.0, 1.5, 40) if quick else (10.0, 10.0, 240)
    warmup = 0.5 if quick else 1.0  # before measuring idle, and after the events start
    t0 = time.perf_counter()
    engine = LoadEngine(logs, scale=scale)
    build_s = time.perf_counter() - t0
    app = CoopyApp(engine)
    result: dict[str, Any] = {"runs": len(engine.runs), "events_per_s": rate, "build_s": round(build_s, 2)}
    t0 = time.perf_counter()
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        loop = asyncio.get_running_loop()
        engine.loop = loop
        await pilot.pause()
        deadline = time.monotonic() + 60
        while not app.settled() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        result["mount_s"] = round(time.perf_counter() - t0, 2)
        meter = FrameMeter(app)
        await asyncio.sleep(warmup)

        # (b) idle: no events at all
        frames, repaints = meter.frames, app.repaints
        w0, c0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(idle_s)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        result["idle"] = {
            "seconds": round(wall, 2),
            "cpu_pct": cpu_share(wall, cpu),
            "frames_per_s": round((meter.frames - frames) / wall, 1),
            "repaint_timer_per_s": round((app.repaints - repaints) / wall, 1),
        }

        # the load: 200 RUN events a second from a task, 50 log lines a second
        stop = asyncio.Event()
        engine_cpu = [0.0]

        async def emitter() -> None:
            start, first, lines = loop.time(), engine.events, 0
            while not stop.is_set():
                elapsed = loop.time() - start
                c = time.thread_time()
                for _ in range(1000):  # a step may emit nothing (an empty queue): bounded
                    if engine.events - first >= int(elapsed * rate):
                        break
                    engine.random_event()
                while lines < int(elapsed * 50):
                    engine.grow_a_log()
                    lines += 1
                engine_cpu[0] += time.thread_time() - c
                await asyncio.sleep(0.005)

        emitting = asyncio.create_task(emitter())
        await asyncio.sleep(warmup)
        frames, repaints, ev = meter.frames, app.repaints, engine.events
        e0 = engine_cpu[0]
        w0, c0 = time.perf_counter(), time.process_time()
        await asyncio.sleep(load_s)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        result["load"] = {
            "seconds": round(wall, 2),
            "cpu_pct": cpu_share(wall, cpu),
            "fake_engine_cpu_pct": cpu_share(wall, engine_cpu[0] - e0),
            "events_per_s": round((engine.events - ev) / wall, 1),
            "frames_per_s": round((meter.frames - frames) / wall, 1),
            "repaint_timer_per_s": round((app.repaints - repaints) / wall, 1),
        }

        # (a) keys under load; the garbage collector's full passes are counted (they stop the screen)
        gc_passes: list[float] = []
        gc_started = [0.0]

        def gc_watch(phase: str, info: dict[str, Any]) -> None:
            if info.get("generation") == 2:
                if phase == "start":
                    gc_started[0] = time.perf_counter()
                else:
                    gc_passes.append(time.perf_counter() - gc_started[0])

        gc.callbacks.append(gc_watch)
        rng = random.Random(7)
        calls: Counter[str] = Counter()
        for action in set(ACTIONS.values()):
            owner = app.screen  # the main screen binds the keys and has their actions
            original = getattr(owner, f"action_{action}")

            def wrapped(*args: Any, _original: Callable[..., Any] = original, _name: str = action) -> Any:
                out = _original(*args)
                calls[_name] += 1
                return out

            setattr(owner, f"action_{action}", wrapped)
        bar = app.query_one(FilterBar)
        latencies: dict[str, list[float]] = {}
        missed: Counter[str] = Counter()
        typed = ""
        presses_log: list[tuple[float, str]] = []
        for i in range(presses):
            key, kind = KEY_CYCLE[i % len(KEY_CYCLE)]
            if key in ACTIONS:
                name, before = ACTIONS[key], calls[ACTIONS[key]]

                def ready(_n: str = name, _b: int = before) -> bool:
                    return calls[_n] > _b

                if kind == "command":  # shown: the run's new priority is in its row
                    table, run = app.panel.table, app.selected()
                    task, old = (run.task, run.priority) if run else ("", 0)

                    def ready(_n: str = name, _b: int = before, _t: Any = table, _k: str = task, _o: int = old) -> bool:
                        return calls[_n] > _b and _k in _t._runs and _t._runs[_k].priority != _o

                if key == "slash":
                    typed = ""

                    def target() -> tuple[Any, ...]:
                        return (bar,)
                else:

                    def target() -> tuple[Any, ...]:
                        return (app.panel.table,)
            else:
                typed = "" if key == "escape" else typed + key
                terms = typed.lower().split()

                def ready(_t: list[str] = terms, _esc: bool = key == "escape") -> bool:
                    done = app.panel.table.filter_text.lower().split() == _t
                    return done and (not _esc or app.focused is app.panel.table)

                rows_before = app.panel.table.rows._shown  # replaced when the key changes which rows show

                def target(_esc: bool = key == "escape", _rows: Any = rows_before) -> tuple[Any, ...]:
                    table = app.panel.table
                    if _esc:
                        return (table,)
                    return (bar,) if table.rows._shown is _rows else (bar, table)

            future: asyncio.Future[float] = loop.create_future()
            sent = time.perf_counter()
            meter.probe = Probe(key, kind, sent, ready, target, future)
            app._driver.send_message(key_event(key))
            try:
                latency = await asyncio.wait_for(future, 5.0)
                latencies.setdefault(kind, []).append(latency * 1000)
                presses_log.append((round(latency * 1000, 1), key))
            except TimeoutError:
                missed[key] += 1
                meter.probe = None
            await asyncio.sleep(rng.uniform(0.03, 0.12))
        gc.callbacks.remove(gc_watch)
        stop.set()
        await emitting

    every = [v for vs in latencies.values() for v in vs]
    result["keys"] = {
        "presses": presses,
        "measured": len(every),
        "missed": dict(missed),
        "median_ms": round(statistics.median(every), 1) if every else None,
        "p95_ms": round(pct(every, 0.95), 1) if every else None,
        "max_ms": round(max(every), 1) if every else None,
        "gc_full_passes": len(gc_passes),
        "gc_full_pass_max_ms": round(max(gc_passes) * 1000, 1) if gc_passes else 0.0,
        "slowest": [f"{key} {ms} ms" for ms, key in sorted(presses_log, reverse=True)[:8]],
        "by_kind": {
            kind: {
                "n": len(vs),
                "median_ms": round(statistics.median(vs), 1),
                "p95_ms": round(pct(vs, 0.95), 1),
                "max_ms": round(max(vs), 1),
            }
            for kind, vs in sorted(latencies.items())
        },
    }
    return result


def table(result: dict[str, Any], target_p95: float = TARGET_P95_MS) -> str:
    """The small table printed at the end (and kept in the JSON's `table`)."""
    k, idle, load = result["keys"], result["idle"], result["load"]
    small = result["runs"] <= 10_000
    rows = [
        ("keypress-to-repaint median", f"{k['median_ms']} ms", ""),
        ("keypress-to-repaint p95", f"{k['p95_ms']} ms", f"<= {target_p95:g} ms"),
        ("keypress-to-repaint max", f"{k['max_ms']} ms", ""),
        ("idle CPU (no events)", f"{idle['cpu_pct']} %", f"<= {TARGET_IDLE_CPU_PCT:g} %" if small else ""),
        (f"CPU at {load['events_per_s']:g} events/s", f"{load['cpu_pct']} %", ""),
        ("  of which the fake engine", f"{load['fake_engine_cpu_pct']} %", ""),
    ]
    for kind, s in k["by_kind"].items():
        rows.append((f"  {kind} keys (n={s['n']}) median / p95", f"{s['median_ms']} / {s['p95_ms']} ms", ""))
    width = max(len(r[0]) for r in rows)
    out = [
        f"TUI under load: {result['runs']} runs, {result['events_per_s']:g} events/s, {k['measured']} presses"
        f" (mounted in {result['mount_s']} s)"
    ]
    out += [f"  {name:<{width}}  {value:>16}  {target}" for name, value, target in rows]
    return "\n".join(out)


def _measure(quick: bool, scale: int) -> dict[str, Any]:
    shm = Path("/dev/shm")  # the logs written in memory: creating thousands of them on a busy disk took seconds
    logs = Path(tempfile.mkdtemp(prefix="coopy-tui-load-", dir=shm if os.access(shm, os.W_OK) else None))
    try:
        return asyncio.run(measure(quick, logs, 200.0, scale))
    finally:
        shutil.rmtree(logs, ignore_errors=True)


def _p95_row(result: dict[str, Any], limit: float) -> dict[str, Any]:
    k = result["keys"]
    return {
        "target": f"TUI keypress-to-repaint p95 ≤ {limit:g} ms ({result['runs']:,} runs, 200 events/s)",
        "measured": f"{k['p95_ms']} ms" + (f" ({sum(k['missed'].values())} never shown)" if k["missed"] else ""),
        "met": k["p95_ms"] is not None and k["p95_ms"] <= limit and not k["missed"],
        "value": k["p95_ms"],
        "limit": limit,
        "unit": "ms",
        "issue": 18,
    }


def run(quick: bool, out: Path | None = None, sizes: tuple[int, ...] = (1, 10)) -> dict[str, Any]:
    """Measure at 10,000 runs and at 100,000 (`sizes`: scales of 10,000), print the tables, write
    `tui_results.json` (to `out`; without it, quick mode writes nothing and a full run bench/); return it.

    `bench/__main__.py` imports this; `targets` uses the same shape as its own target rows.
    """
    result: dict[str, Any] = {}
    runs = {}
    for scale in sizes:
        runs[scale] = _measure(quick, scale)
        print(table(runs[scale], TARGET_P95_MS if scale == 1 else TARGET_P95_100K_MS), flush=True)
    base = runs.get(1) or next(iter(runs.values()))
    result.update(base)
    result["targets"] = []
    if 1 in runs:
        result["targets"].append(_p95_row(runs[1], TARGET_P95_MS))
        idle = runs[1]["idle"]["cpu_pct"]
        result["targets"].append(
            {
                "target": "TUI idle CPU ≤ 1 % (10,000 runs)",
                "measured": f"{idle} %",
                "met": idle <= TARGET_IDLE_CPU_PCT,
                "value": idle,
                "limit": TARGET_IDLE_CPU_PCT,
                "unit": "%",
                "issue": 18,
            }
        )
    if 10 in runs:
        result["targets"].append(_p95_row(runs[10], TARGET_P95_100K_MS))
        result["at_100k"] = runs[10]
    result["date"] = dt.date.today().isoformat()
    result["command"] = "python -m bench.tui_load" + (" --quick" if quick else "")
    result["machine"] = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    result["table"] = "\n\n".join(table(r, TARGET_P95_MS if s == 1 else TARGET_P95_100K_MS) for s, r in runs.items())
    folder = out or (None if quick else ROOT / "bench")
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tui_results.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {folder / 'tui_results.json'}")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tui_load", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few seconds: 40 presses, 2 s idle, 1.5 s loaded")
    p.add_argument("--out", type=Path, help="folder for tui_results.json (default: bench/; quick: not written)")
    p.add_argument("--no-100k", action="store_true", help="only the 10,000-run measurement")
    args = p.parse_args(argv)
    run(args.quick, args.out, (1,) if args.no_100k else (1, 10))
    return 0


if __name__ == "__main__":
    sys.exit(main())
