"""Turning engine views into short text: states, durations, bars, ETAs and the pipeline's outcome.

Plain functions of their inputs (the clock is passed in), so the same state always renders the same
screen; the snapshot tests rely on that. The numbers follow `coopy status`: a stage has `total` runs
(StageView.total: one per configuration or one per group); "done" is done + skipped; a run that is
queued, running or waiting can still happen; failed, cancelled and blocked ones cannot. A stage with
nothing left that can happen shows no ETA.
"""

from __future__ import annotations

import math
import time

from rich.text import Text

from coopy_core.cli.progress import format_duration
from coopy_core.model import RunState, RunView, StageView

__all__ = [
    "format_duration",
    "STATE_GLYPHS",
    "bar",
    "stage_eta",
    "pipeline_eta",
    "state_text",
    "elapsed",
    "ended",
    "passed",
    "stopped",
    "open_runs",
    "stage_status",
    "outcome_text",
    "clock_time",
    "middle_truncate",
    "pipeline_eta_text",
    "cut",
]

STATE_GLYPHS: dict[RunState, str] = {
    RunState.QUEUED: "·",
    RunState.RUNNING: "▶",
    RunState.DONE: "✓",
    RunState.FAILED: "✗",
    RunState.CANCELLED: "⊘",
    RunState.SKIPPED: "↷",
    RunState.WAITING: "◦",
    RunState.BLOCKED: "⊗",
    RunState.REMOVED: "-",
}
# Colour says the state at a glance (failed red, done green, running bright); without colour (NO_COLOR)
# the glyphs and the bold / dim weights still tell them apart.
STATE_STYLES: dict[RunState, str] = {
    RunState.QUEUED: "",
    RunState.RUNNING: "bold cyan",
    RunState.DONE: "green",
    RunState.FAILED: "bold red",
    RunState.CANCELLED: "yellow",
    RunState.SKIPPED: "dim",
    RunState.WAITING: "dim",
    RunState.BLOCKED: "dim",
    RunState.REMOVED: "dim strike",
}
STOPPED = ("failed", "cancelled", "blocked")  # ended without passing: shown in every header and tab


def state_text(run: RunView, now: float) -> Text:
    """`running`, `failed`, `retry 3s` (queued, waiting out a retry backoff) ..."""
    if run.state == RunState.QUEUED and run.not_before is not None:
        return Text(f"retry {format_duration(max(0.0, run.not_before - now))}", style="italic")
    return Text(run.state.value, style=STATE_STYLES[run.state])


def elapsed(run: RunView, now: float) -> str:
    """How long the current (or last) attempt ran; empty before the first start."""
    if run.started_at is None:
        return ""
    end = run.ended_at if run.state != RunState.RUNNING and run.ended_at is not None else now
    return format_duration(max(0.0, end - run.started_at))


def passed(view: StageView) -> int:
    """Done or skipped: what `coopy status` shows as done."""
    return view.counts.get("done", 0) + view.counts.get("skipped", 0)


def stopped(view: StageView) -> int:
    """Ended without passing: failed, cancelled or blocked (nothing more happens unless retried)."""
    return sum(view.counts.get(s, 0) for s in STOPPED)


def ended(view: StageView) -> int:
    return passed(view) + stopped(view)


def stage_total(view: StageView, fallback: int) -> int:
    """The stage's runs (one per configuration, or one per group)."""
    return view.total or fallback


def open_runs(view: StageView, total: int) -> int:
    """Runs that can still happen: queued, running or waiting for what they need."""
    return max(0, stage_total(view, total) - ended(view))


def bar(fraction: float, width: int) -> str:
    """A progress bar of `width` cells using eighth blocks (monochrome-safe)."""
    width = max(1, width)
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part and full < width else ""
    return ("█" * full + partial).ljust(width, "░")[:width]


def stage_eta(view: StageView, total: int) -> float | None:
    """Seconds until every run of this stage that can still happen has ended, from the mean run time;
    0 when nothing can happen any more, None when unknown (no run done yet, or paused)."""
    remaining = open_runs(view, total)
    if remaining == 0:
        return 0.0
    if view.mean_duration is None or view.paused:
        return None
    return math.ceil(remaining / max(1, view.workers)) * view.mean_duration


def pipeline_eta(views: list[StageView], total: int) -> float | None:
    """The slowest stage bounds the pipeline (stages overlap, so this is not a sum)."""
    etas = [stage_eta(v, total) for v in views]
    if any(e is None for e in etas):
        return None
    return max((e for e in etas if e is not None), default=0.0)


def pipeline_eta_text(views: list[StageView], total: int) -> str:
    """`ETA 1m20s`; `ETA 45s+` when some stage with work left has no run time to go by yet (at least
    that long); `ETA --` when none has; `ETA paused` when only paused stages are left."""
    known: list[float] = []
    unknown = paused = False
    for v in views:
        if open_runs(v, total) == 0:
            continue
        eta = stage_eta(v, total)
        if eta is None:
            paused |= v.paused
            unknown |= not v.paused
        else:
            known.append(eta)
    if not known:
        return "ETA paused" if paused and not unknown else "ETA --"
    text = f"ETA {format_duration(max(known))}"
    return text + "+" if unknown or paused else text


def eta_text(seconds: float | None, paused: bool = False) -> str:
    if paused:
        return "ETA paused"
    if seconds is None:
        return "ETA --"
    if seconds <= 0:
        return "done"
    return f"ETA {format_duration(seconds)}"


def stage_status(view: StageView, total: int, busy: bool = True) -> str:
    """The end of a stage's progress line: `ETA 40s`, `ETA --`, `ETA paused`, or, once nothing of it can
    happen any more (or the pipeline stopped moving: `busy` False), `done` when every run passed and
    `ended` when some did not. Never an ETA for work that cannot start."""
    if open_runs(view, total) == 0 or not busy:
        return "done" if passed(view) >= stage_total(view, total) else "ended"
    return eta_text(stage_eta(view, total), view.paused)


def busy(views: list[StageView]) -> bool:
    """Something is queued or running somewhere (what the engine calls not finished)."""
    return any(v.counts.get("queued", 0) or v.counts.get("running", 0) for v in views)


def outcome_text(views: list[StageView], total: int) -> str:
    """`finished` when every run of every stage passed, else `finished: 3 failed, 1 cancelled, 12 blocked`
    (the top bar and the end-of-pipeline notification both say this, so they cannot disagree)."""
    counts = {s: sum(v.counts.get(s, 0) for v in views) for s in STOPPED}
    left = sum(open_runs(v, total) for v in views)
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    if left:
        parts.append(f"{left} never started")
    return "finished: " + ", ".join(parts) if parts else "finished"


def clock_time(ts: float | None, now: float | None = None) -> str:
    """`14:03:07` (local time), with the date when it is not today's."""
    if ts is None:
        return "--"
    local = time.localtime(ts)
    today = time.localtime(now if now is not None else time.time())
    if local[:3] != today[:3]:
        return time.strftime("%Y-%m-%d %H:%M:%S", local)
    return time.strftime("%H:%M:%S", local)


def middle_truncate(text: str, width: int) -> str:
    """`model=resn…seed=2`: keep both ends of a name (its last param tells runs apart) in `width` cells."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, `…` at the end when it is cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
