"""Turning engine views into short text: states, durations, bars and ETAs.

Plain functions of their inputs (the clock is passed in), so the same state
always renders the same screen; the snapshot tests rely on that.
"""

from __future__ import annotations

import math

from rich.text import Text

from coopy_core.model import RunState, RunView, StageView
from coopy_core.progress import format_duration

__all__ = ["format_duration", "STATE_GLYPHS", "bar", "stage_eta", "pipeline_eta", "state_text", "elapsed", "ended"]

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
STATE_STYLES: dict[RunState, str] = {
    RunState.QUEUED: "",
    RunState.RUNNING: "bold",
    RunState.DONE: "",
    RunState.FAILED: "bold",
    RunState.CANCELLED: "",
    RunState.SKIPPED: "dim",
    RunState.WAITING: "dim",
    RunState.BLOCKED: "dim",
    RunState.REMOVED: "dim strike",
}


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


def ended(view: StageView) -> int:
    c = view.counts
    return c.get("done", 0) + c.get("skipped", 0) + c.get("failed", 0) + c.get("cancelled", 0) + c.get("blocked", 0)


def stage_total(view: StageView, fallback: int) -> int:
    """The stage's runs (one per configuration, or one per group)."""
    return view.total or fallback


def bar(fraction: float, width: int) -> str:
    """A progress bar of `width` cells using eighth blocks (monochrome-safe)."""
    width = max(1, width)
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part and full < width else ""
    return ("█" * full + partial).ljust(width, "░")[:width]


def stage_eta(view: StageView, total: int) -> float | None:
    """Seconds until every run of this stage that can still start has ended, from the mean run time."""
    remaining = max(0, stage_total(view, total) - ended(view))
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


def eta_text(seconds: float | None, paused: bool = False) -> str:
    if paused:
        return "ETA paused"
    if seconds is None:
        return "ETA --"
    if seconds <= 0:
        return "done"
    return f"ETA {format_duration(seconds)}"
