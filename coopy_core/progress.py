"""Headless progress for `coopy run`: a live line per stage on a terminal, plain lines otherwise."""

from __future__ import annotations

import asyncio
import time
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


def stage_line(view: StageView, elapsed: float, width: int = 0, done_before: int = 0) -> str:
    """`train [2/2] queued 3  running 2  done 4/9  failed 0  12.0/min  ETA 25s`. The rate counts only runs
    done since `coopy run` began (`done_before` were done already); no ETA for work that cannot start."""
    c = view.counts
    total = view.total
    left = c.get("queued", 0) + c.get("running", 0) + c.get("waiting", 0)
    done_now = c["done"] - done_before
    rate = done_now / elapsed if elapsed >= 1.0 and done_now > 0 else 0.0
    if not left:
        eta = "done" if c["done"] + c["skipped"] == total else "--"
    else:
        eta = "ETA " + (format_duration(left / rate) if rate > 0 else "--")
    paused = " PAUSED" if view.paused else ""
    name = view.name if not width else view.name.ljust(width)
    blocked = f"  blocked {c['blocked']}" if c.get("blocked") else ""
    speed = f"{rate * 60:.1f}/min" if rate > 0 else "--/min"
    return (
        f"{name} [{c['running']}/{view.workers}]{paused} "
        f"queued {c['queued']}  running {c['running']}  done {c['done'] + c['skipped']}/{total}  "
        f"failed {c['failed']}{blocked}  {speed}  {eta}"
    )


class ProgressPrinter:
    def __init__(self, engine: Engine, stream: TextIO, live: bool) -> None:
        self.engine = engine
        self.stream = stream
        self.live = live
        self.started = time.monotonic()
        self._done_before: dict[str, int] = {}
        self._drawn = 0
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = engine.subscribe(self._on_event)

    def start(self) -> None:
        """Call once the engine has started (what was done before is not counted in the rates)."""
        self._done_before = {s.name: s.counts["done"] for s in self.engine.snapshot().stages}
        if self.live:
            self._task = asyncio.create_task(self._redraw_loop())

    def stop(self) -> None:
        self._unsubscribe()
        if self._task:
            self._task.cancel()
        if self.live:
            self._clear()
            self._draw()
        self._summary()

    def _on_event(self, event: Event) -> None:
        said = event.level in ("error", "warning") or event.data.get("source") == "store"  # a store back: said too
        if event.kind == EventKind.MESSAGE and said:
            self._print(f"{event.level}: {event.message}")
        elif event.kind == EventKind.RUN and not self.live and event.run is not None:
            run = event.run
            if run.state in (RunState.DONE, RunState.SKIPPED, RunState.CANCELLED):
                took = (run.ended_at or 0) - (run.started_at or 0) if run.started_at else 0
                extra = f" ({run.reason})" if run.reason else ""
                self._print(f"{run.state.value:9} {run.stage} {run.task} attempt {run.attempt} {took:.1f}s{extra}")
            elif run.state == RunState.RUNNING and run.pid is not None:
                self._print(f"{'started':9} {run.stage} {run.task} attempt {run.attempt}")

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
        elapsed = time.monotonic() - self.started
        return [stage_line(v, elapsed, width, self._done_before.get(v.name, 0)) for v in snap_stages]

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
