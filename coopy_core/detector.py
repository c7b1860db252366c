"""Detector: how completion is known (the original CooPy extension point).

The engine asks a Detector when a run's process ends, and, for Detectors that
watch outside state, every `poll_interval` seconds while the run is open.
A Detector answers DONE, FAILED or RUNNING; it may be slow or raise: the
engine runs custom ones in a thread, bounds them with `detector_timeout`
and fails the run with the reason when they raise.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coopy_core.plugin import Plugin


class Status(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    RUNNING = "running"


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str = ""


@dataclass(frozen=True)
class DetectContext:
    task: str
    stage: str
    attempt: int
    params: Mapping[str, object]
    outputs: list[Path]
    log: Path
    exit_code: int | None  # None while the process is still alive (or was never a process)
    elapsed: float
    extra: Mapping[str, object] = field(default_factory=dict)


def describe_exit(code: int) -> str:
    if code == 127:
        return "command not found (exit 127)"
    if code == 126:
        return "command not executable (exit 126)"
    if code > 128:
        import signal

        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            name = f"signal {code - 128}"
        return f"killed by {name} (exit {code})"
    return f"exit code {code}"


class Detector(Plugin):
    """How a run's end is known: `check(ctx) -> Verdict`, where the Verdict's status is DONE, FAILED
    or RUNNING (not yet), with a reason shown in the UI.

    Give it to a stage: `detector = "module:Class"` in coopy.toml, or the class or an object in Python
    (`Stage("train", detector=MetricsDetector)`); like a Scripter, it has `self.stage` and `self.config`.
    `check` is called when the run's process exits, and, when `polls` is true, every `poll_interval`
    seconds while it runs (so a run can be done before its process exits, or after: an output that
    appears later). `ctx` holds task, stage, attempt, params, outputs (the `done_when` paths), log,
    exit_code (None while the process lives) and elapsed seconds. A custom Detector runs in a thread,
    bounded by `[pipeline] detector_timeout`; an exception fails the run with its message.

        class MetricsDetector(Detector):
            polls = True
            def check(self, ctx: DetectContext) -> Verdict:
                if ctx.exit_code not in (None, 0):
                    return Verdict(Status.FAILED, f"exit {ctx.exit_code}")
                if (ctx.outputs[0].parent / "metrics.json").exists():
                    return Verdict(Status.DONE)
                return Verdict(Status.RUNNING, "waiting for metrics")

    The default says DONE once the process exited 0 and every `done_when` output exists.
    """

    polls: bool = True

    def check(self, ctx: DetectContext) -> Verdict:
        if ctx.exit_code is None:
            return Verdict(Status.RUNNING)
        if ctx.exit_code != 0:
            return Verdict(Status.FAILED, describe_exit(ctx.exit_code))
        missing = [p for p in ctx.outputs if not p.exists()]
        if missing:
            return Verdict(Status.RUNNING, f"waiting for output {missing[0]}")
        return Verdict(Status.DONE)


class ExitStatusDetector(Detector):
    """Done when the process exits 0 and every `done_when` output exists (it may appear later)."""

    polls = False
