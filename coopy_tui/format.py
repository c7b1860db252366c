"""Turning engine views into short text: states, durations, bars, ETAs and the pipeline's outcome.

Plain functions of their inputs (the clock is passed in), so the same state always renders the same
screen; the snapshot tests rely on that. The numbers follow `coopy status`: a stage has `total` runs
(StageView.total: one per configuration or one per group); "done" is done + skipped; a run that is
queued, running or waiting can still happen; failed, cancelled and blocked ones cannot. A stage with
nothing left that can happen shows no ETA.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from rich.text import Text

from coopy_core.cli.progress import format_duration
from coopy_core.model import STOPPED_STATES, RunState, RunView, StageView, stopped_text

__all__ = [
    "format_duration",
    "STATE_GLYPHS",
    "bar",
    "stage_eta",
    "Estimate",
    "estimates",
    "pipeline_estimate",
    "pipeline_eta",
    "state_text",
    "elapsed",
    "reason_now",
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
    "counted",
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
    # a light red: under NO_COLOR Textual greys a colour by its luminance, and plain red greyed to the
    # background's own grey (59 on 38: a failed row's glyph and word unreadable); this one greys to 129
    RunState.FAILED: "bold #ff5f5f",
    RunState.CANCELLED: "yellow",
    RunState.SKIPPED: "dim",
    RunState.WAITING: "dim",
    RunState.BLOCKED: "dim",
    RunState.REMOVED: "dim strike",
}
STOPPED = tuple(s.value for s in STOPPED_STATES)  # ended without passing: shown in every header and tab


def state_text(run: RunView, now: float) -> Text:
    """`running`, `failed`, `retry 3s` (queued, waiting out a retry backoff) ..."""
    if run.state == RunState.QUEUED and run.not_before is not None:
        return Text(f"retry {format_duration(max(0.0, run.not_before - now))}", style="italic")
    return Text(run.state.value, style=STATE_STYLES[run.state])


_RETRY_IN = re.compile(r"\b(retry \d+/\d+|trying again) in \d+(?:\.\d+)?s\b")


def reason_now(run: RunView, now: float, paused: bool = False) -> str:
    """A queued run's reason as it is now, not as the engine said it when the attempt ended (`exit code 1;
    retry 1/2 in 2s` was still shown 20 s later): the wait counted down (`retry 1/2 in 1s`), then `retry 1/2:
    queued` once the backoff is over, or `retry 1/2 waits for the stage to resume` while it is paused."""
    if run.state != RunState.QUEUED or not (said := _RETRY_IN.search(run.reason)):
        return run.reason
    if paused:
        when = " waits for the stage to resume"
    elif run.not_before is not None and run.not_before > now:
        when = f" in {format_duration(run.not_before - now)}"
    else:
        when = ": queued"
    return f"{run.reason[: said.start()]}{said.group(1)}{when}{run.reason[said.end() :]}"


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


MIN_TIMED_RUNS = 2  # a stage's ETA needs this many of its runs done (this session's or stored ones): one
# quick first run said `ETA 2s` of a five-minute pipeline


@dataclass(frozen=True)
class Estimate:
    """When a stage (or the pipeline) will have ended, as far as can be said: `seconds` None when it cannot
    be (a stage with too few runs done to go by, or waiting on one), `paused` the paused stages it waits on
    (itself included): nothing moves there until they resume, so no number is given."""

    seconds: float | None = None
    paused: tuple[str, ...] = ()
    at_least: bool = False  # `seconds` is a floor: a stage not started yet ends after what it needs has

    def text(self, stage: str = "") -> str:
        """`ETA 40s`, `ETA 12m30s+` (no sooner), `ETA --`, `ETA paused` (this stage is), `ETA -- (train
        paused)` (what it waits on is)."""
        if stage and stage in self.paused:
            return "ETA paused"
        if self.paused:
            return f"ETA -- ({', '.join(self.paused)} paused)"
        if self.seconds is None:
            return "ETA --"
        return f"ETA {format_duration(self.seconds)}{'+' if self.at_least else ''}"


def stage_eta(view: StageView, total: int) -> float | None:
    """Seconds until every run of this stage that can still happen has ended, from the mean run time, as if
    what it needs were there; 0 when nothing can happen any more, None when unknown (fewer than
    MIN_TIMED_RUNS runs done to go by, or paused)."""
    remaining = open_runs(view, total)
    if remaining == 0:
        return 0.0
    timed = view.counts.get("done", 0) >= min(MIN_TIMED_RUNS, stage_total(view, total))
    if view.mean_duration is None or view.paused or not timed:
        return None
    return math.ceil(remaining / max(1, view.workers)) * view.mean_duration


def estimates(views: list[StageView], total: int) -> dict[str, Estimate]:
    """Each stage's Estimate along the graph: a stage ends no sooner than its own work allows, nor than a
    run after the last of what it needs has ended (a downstream stage's `ETA 2m59s` stayed while what it
    waited on was paused); a stage waiting on a paused one, or on one with no estimate, has none."""
    by_name = {v.name: v for v in views}
    out: dict[str, Estimate] = {}

    def of(view: StageView) -> Estimate:
        if view.name in out:
            return out[view.name]
        out[view.name] = Estimate()  # a cycle (never in a valid config) ends here
        if open_runs(view, total) == 0:
            out[view.name] = Estimate(0.0)
            return out[view.name]
        ups = [of(by_name[n]) for n in view.needs if n in by_name and open_runs(by_name[n], total)]
        paused = ((view.name,) if view.paused else ()) + tuple(p for up in ups for p in up.paused)
        own = stage_eta(view, total)
        known = [up.seconds for up in ups if up.seconds is not None]
        floor = any(up.at_least for up in ups)
        if paused:
            estimate = Estimate(None, tuple(sorted(set(paused), key=lambda n: by_name[n].index)))
        elif len(known) < len(ups):
            estimate = Estimate()
        elif own is None:
            # Not started and waiting only on stages that have a number: it ends no sooner than they do (a
            # final report stage kept the pipeline's ETA at `--` until it ran). Started but not timed: unknown.
            estimate = Estimate(max(known), at_least=True) if known and not started(view) else Estimate()
        else:
            after = own if not known else max(known) + (view.mean_duration or 0.0)
            estimate = Estimate(max(own, after), at_least=floor)
        out[view.name] = estimate
        return estimate

    for view in views:
        of(view)
    return out


def pipeline_estimate(views: list[StageView], total: int) -> Estimate:
    """The last stage to end bounds the pipeline; no number while any stage with work left has none."""
    each = estimates(views, total)
    stages = [each[v.name] for v in views if open_runs(v, total)]
    paused = tuple(dict.fromkeys(p for e in stages for p in e.paused))
    if paused:
        order = {v.name: v.index for v in views}
        return Estimate(None, tuple(sorted(paused, key=lambda n: order.get(n, 0))))
    if any(e.seconds is None for e in stages):
        return Estimate()
    return Estimate(
        max((e.seconds for e in stages if e.seconds is not None), default=0.0), at_least=any(e.at_least for e in stages)
    )


def started(view: StageView) -> bool:
    """Some run of the stage runs or has run (this session or before): its own time then counts."""
    return any(view.counts.get(state, 0) for state in ("running", "done", "failed"))


def pipeline_eta(views: list[StageView], total: int) -> float | None:
    return pipeline_estimate(views, total).seconds


def pipeline_eta_text(views: list[StageView], total: int) -> str:
    """`ETA 1m20s`; `ETA 12m30s+` when the stages still to start can only be said to end after what they
    need; `ETA --` while some started stage with work left has no estimate yet (never a floor from the
    stages that have one: `ETA 2s+` was said of a five-minute pipeline); `ETA -- (train paused)` while
    work waits on a paused stage."""
    return pipeline_estimate(views, total).text()


def stage_status(view: StageView, total: int, busy: bool = True, estimate: Estimate | None = None) -> str:
    """The end of a stage's progress line: `ETA 40s`, `ETA --`, `ETA paused`, `ETA -- (train paused)`, or,
    once nothing of it can happen any more (or the pipeline stopped moving: `busy` False), `done` when
    every run passed and `ended` when some did not. Never an ETA for work that cannot start. `estimate`
    is the stage's from `estimates` over every stage (without it, the stage alone is judged)."""
    if open_runs(view, total) == 0 or not busy:
        return "done" if passed(view) >= stage_total(view, total) else "ended"
    if estimate is None:
        estimate = estimates([view], total)[view.name]
    return estimate.text(view.name)


def busy(views: list[StageView]) -> bool:
    """Something is queued or running somewhere (what the engine calls not finished)."""
    return any(v.counts.get("queued", 0) or v.counts.get("running", 0) for v in views)


def counted(n: int, noun: str) -> str:
    """`1 row`, `3 rows`, `0 runs` (nouns that take an s)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def outcome_text(views: list[StageView], total: int) -> str:
    """`finished` when every run of every stage passed, else `finished: 3 failed, 1 cancelled, 12 blocked`
    (the top bar and the end-of-pipeline notification both say this, so they cannot disagree)."""
    counts = {s: sum(v.counts.get(s, 0) for v in views) for s in STOPPED}
    stopped = stopped_text(counts, sum(open_runs(v, total) for v in views))
    return f"finished: {stopped}" if stopped else "finished"


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


def cut_words(text: str, width: int) -> str:
    """Prose in at most `width` characters, cut after a whole word when one ends in its last third (a run name
    or a path, one long word, is still cut inside), `…` at the end."""
    if len(text) <= width:
        return text
    head = text[: max(0, width - 1)]
    if text[len(head)] != " ":  # the cut is inside a word: back to the end of the one before
        space = head.rfind(" ")
        if space >= width * 2 // 3:
            head = head[:space]
    return head.rstrip(" ·,:;") + "…"
