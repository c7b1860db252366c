"""Headless progress for `coopy run`: a live line per stage on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TextIO

from coopy_core.engine import Engine
from coopy_core.model import Event, EventKind, RunState, StageView

REDRAW_SECONDS = 0.5


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "--"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


MIN_RATE_RUNS = 2  # a rate (and an ETA from it) needs at least this many runs done in this session ...
MIN_RATE_SECONDS = 1.0  # ... over at least this long since the stage's first start in it


def format_rate(per_second: float) -> str:
    per_minute = per_second * 60
    return f"{per_minute:.1f}/min" if per_minute >= 1 else f"{per_minute * 60:.1f}/h"


def paused_upstream(views: Sequence[StageView]) -> dict[str, tuple[str, ...]]:
    """Each stage's paused stages with work left that it waits on through what it needs (directly or
    further up): until they resume, its waiting runs cannot start, so an ETA from its rate would stand still."""
    by_name = {v.name: v for v in views}
    found: dict[str, tuple[str, ...]] = {}

    def left(v: StageView) -> bool:
        return any(v.counts.get(s, 0) for s in ("queued", "running", "waiting"))

    def of(name: str, seen: frozenset[str]) -> tuple[str, ...]:
        if name in found:
            return found[name]
        out: list[str] = []
        for need in by_name[name].needs:
            up = by_name.get(need)
            if up is None or need in seen or not left(up):
                continue
            out += ([need] if up.paused else []) + list(of(need, seen | {need}))
        found[name] = tuple(sorted(set(out), key=lambda n: by_name[n].index))
        return found[name]

    return {v.name: of(v.name, frozenset({v.name})) for v in views}


def stage_line(
    view: StageView, active: float | None, width: int = 0, done_before: int = 0, held_by: Sequence[str] = ()
) -> str:
    """`train [2/2] waiting 1  queued 3  running 2  done 4/10  failed 0  12.0/min  ETA 25s`.

    Rates and ETAs only where they mean something: the rate counts the runs done in this session
    (`done_before` were done already; skipped ones took no time) over the time since the stage's first
    start in it (`active` seconds; None: none yet), from two runs on; a finished stage says `done` and
    no rate, a paused one no ETA, one with nothing queued or running (only waiting on other stages) no
    ETA, nor one whose waiting runs wait on a paused stage (`held_by`: it says so instead). States with no
    runs are left out, except queued, running, done and failed."""
    c = view.counts
    total = view.total
    queued, running, waiting = c.get("queued", 0), c.get("running", 0), c.get("waiting", 0)
    left = queued + running + waiting
    name = view.name if not width else view.name.ljust(width)
    head = f"{name} [{running}/{view.workers}]{' PAUSED' if view.paused else ''} "
    parts: list[str] = []
    if waiting:
        parts.append(f"waiting {waiting}")
    passed = c["done"] + c["skipped"]
    parts += [f"queued {queued}", f"running {running}", f"done {passed}/{total}", f"failed {c['failed']}"]
    for state in ("cancelled", "blocked"):
        if c.get(state):
            parts.append(f"{state} {c[state]}")
    if not left:
        if passed == total:
            parts.append("done")
        return head + "  ".join(parts)
    done_now = c["done"] - done_before
    if active is not None and active >= MIN_RATE_SECONDS and done_now >= MIN_RATE_RUNS:
        rate = done_now / active
        parts.append(format_rate(rate))
        if not view.paused and (queued or running) and not (held_by and waiting):
            parts.append("ETA " + format_duration(left / rate))
    if held_by and waiting:
        parts.append(f"waits for {', '.join(held_by)} (paused)")
    return head + "  ".join(parts)


# Lines per event take every state but QUEUED from the first (a line is printed for a start, an end, a skip
# or a block; the others tell that a run moved on, so that it coming back is a line again), and QUEUED too
# once the engine has started: a start's thousands of runs queued build no event for them.
LINE_STATES = frozenset(RunState) - {RunState.QUEUED}


class ProgressPrinter:
    def __init__(self, engine: Engine, stream: TextIO, live: bool) -> None:
        self.engine = engine
        self.stream = stream
        self.live = live
        self._done_before: dict[str, int] = {}
        self._active_since: dict[str, float] = {}  # monotonic time of each stage's first start seen
        self._drawn = 0
        self._said: dict[tuple[str, str], tuple[int, RunState]] = {}  # a run's news (metrics) is not a new line
        self._task: asyncio.Task[None] | None = None
        # Live lines take the runs' news from the engine's start on (start() reads what was running); lines
        # per event need every run's from the first (a run skipped or blocked at start is a line).
        kinds = frozenset(EventKind) - {EventKind.RUN} if live else None
        self._unsubscribers = [engine.subscribe(self._on_event, kinds, LINE_STATES)]

    def start(self) -> None:
        """Call once the engine has started (what was done before is not counted in the rates)."""
        wanted = frozenset({RunState.RUNNING}) if self.live else frozenset({RunState.QUEUED})
        self._unsubscribers.append(self.engine.subscribe(self._on_event, frozenset({EventKind.RUN}), wanted))
        now = time.monotonic()
        for stage in (self.engine.stage_view(s.name) for s in self.engine.config.stages):
            self._done_before[stage.name] = stage.counts["done"]
            if stage.running:
                self._active_since.setdefault(stage.name, now)  # adopted runs: active from now on
        if self.live:
            self._task = asyncio.create_task(self._redraw_loop())

    def stop(self) -> None:
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        if self._task:
            self._task.cancel()
        if self.live:
            self._clear()
            self._draw()
        self._summary()

    def _on_event(self, event: Event) -> None:
        if event.kind == EventKind.RUN and event.run is not None and event.run.state == RunState.RUNNING:
            self._active_since.setdefault(event.run.stage, time.monotonic())
        said = event.level in ("error", "warning") or event.data.get("source") == "store"  # a store back: said too
        if event.kind == EventKind.MESSAGE and said:
            self._print(f"{event.level}: {event.message}")
        elif event.kind == EventKind.RUN and not self.live and event.run is not None:
            run = event.run
            said = (run.attempt, run.state)
            if self._said.get((run.stage, run.task)) == said or (run.state == RunState.RUNNING and run.pid is None):
                return
            self._said[(run.stage, run.task)] = said
            if run.state in (RunState.DONE, RunState.SKIPPED, RunState.CANCELLED):
                took = (run.ended_at or 0) - (run.started_at or 0) if run.started_at else 0
                extra = f" ({run.reason})" if run.reason else ""
                self._print(f"{run.state.value:9} {run.stage} {run.task} attempt {run.attempt} {took:.1f}s{extra}")
            elif run.state == RunState.BLOCKED:
                self._print(f"{run.state.value:9} {run.stage} {run.task} ({run.reason})")
            elif run.state == RunState.RUNNING and run.pid is not None:
                self._print(f"{run.state.value:9} {run.stage} {run.task} attempt {run.attempt}")

    def _print(self, line: str) -> None:
        if self.live:
            self._clear()
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.live:
            self._draw()

    async def _redraw_loop(self) -> None:
        while True:
            self._clear()
            self._draw()
            await asyncio.sleep(REDRAW_SECONDS)

    def _lines(self) -> list[str]:
        snap_stages = [self.engine.stage_view(s.name) for s in self.engine.config.stages]
        width = max(len(s.name) for s in snap_stages)
        now = time.monotonic()
        lines = []
        held = set(self.engine.held_stages())  # `coopy run --until`: these start nothing this time
        paused = paused_upstream(snap_stages)
        for v in snap_stages:
            since = self._active_since.get(v.name)
            active = None if since is None else now - since
            line = stage_line(v, active, width, self._done_before.get(v.name, 0), paused[v.name])
            lines.append(line + ("  (not run: --until)" if v.name in held else ""))
        return lines

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        lines = self._lines()
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def _summary(self) -> None:
        if not self.live:
            for line in self._lines():
                self.stream.write(line + "\n")
        self.stream.flush()
