"""Numbers a run reports: JSON lines appended to `$COOPY_METRICS`, or a stage's `metrics` file read at the end.

A run appends one JSON object per line to the file named by `$COOPY_METRICS` (`{"step": 3, "loss": 0.41}`);
the engine reads what is new every `poll_interval` while the run lives, and once more when it ends. A stage
may also declare `metrics = "out/{task}/metrics.json"`: one JSON object, read when the run ends. Numbers
(finite int or float, not true/false) are metrics; `step` orders a series (default: the line's number);
nested objects are flattened (`{"val": {"acc": 0.9}}` is `val.acc`); anything else is ignored. A line that is
not a JSON object, not UTF-8, or longer than MAX_LINE is skipped, and the run's log gets ONE line saying so:
bad metrics never fail a run.

Kept per attempt: the last value of each metric, and its series bounded to MAX_POINTS points. When a series
is full it is thinned to every other point and from then on keeps every other new point, so a long run's
curve still spans its whole life (the last value is always exact). Nothing here touches the store: the
engine turns `Update`s into rows of its next commit.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopy_core.model import MetricRow, Point

ENV_VAR = "COOPY_METRICS"
MAX_LINE = 64 * 1024  # bytes; a longer line is skipped (one warning)
MAX_READ = 4 * 2**20  # bytes read per run per poll: a flood is caught up over several polls
MAX_POINTS = 1000  # per metric series
MAX_METRICS = 200  # names per run; more are ignored (one warning)
MAX_SUMMARY = 4 * 2**20  # bytes of a stage's `metrics` file
MAX_NAME = 100  # characters of a metric's name
STEP = "step"


def numbers(obj: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, float]:
    """The finite numbers of a JSON object, nested objects flattened with dots (booleans are not numbers)."""
    out: dict[str, float] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool) or not isinstance(key, str):
            continue
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:  # a valid JSON integer too large for a float (400 digits): refused alone
                continue
            if math.isfinite(number) and 0 < len(name) <= MAX_NAME:
                out[name] = number
        elif isinstance(value, dict) and depth < 4:
            out.update(numbers(value, f"{name}.", depth + 1))
    return out


def parse_line(raw: bytes) -> tuple[dict[str, float], float | None] | str:
    """One JSONL line: (metrics, step) or why it is bad."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not an object"
    values = numbers(obj)
    step = values.pop(STEP, None)
    return values, step


@dataclass
class Series:
    """A bounded series: every `stride`-th point once full (thinned, never cut off)."""

    points: list[Point] = field(default_factory=list)
    stride: int = 1
    seen: int = 0

    def add(self, step: float, value: float) -> None:
        self.seen += 1
        if (self.seen - 1) % self.stride:
            return
        self.points.append((step, value))
        if len(self.points) > MAX_POINTS:
            self.points = self.points[::2]
            self.stride *= 2


@dataclass
class AttemptMetrics:
    """One attempt's metrics: what its JSONL file said so far, and its summary file once read."""

    path: Path
    log: Path | None = None
    offset: int = 0
    lines: int = 0
    last: dict[str, float] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)  # metric -> step of its last value
    series: dict[str, Series] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    bad: int = 0
    warned: bool = False
    _skipping: bool = False  # inside a line longer than MAX_LINE
    _partial: bytes = b""
    _too_many: bool = False

    # ------------------------------------------------------------------ the JSONL file
    def read(self, final: bool = False) -> bool:
        """Read what was appended since the last call; True when some metric changed.

        While the run runs, at most MAX_READ bytes a call (a flood is caught up over several polls); at the end
        (`final`) everything left, so the last values are the last the run wrote, and an incomplete last line is
        taken as it is."""
        chunks = 1
        if final:  # bounded by what the file held when the run ended (a process left writing cannot hold us here)
            with contextlib.suppress(OSError):
                chunks = max(1, -(-(os.stat(self.path).st_size - self.offset) // MAX_READ))
        for _ in range(chunks):
            if not self._read_chunk(final):
                break
        return bool(self.dirty)

    def _read_chunk(self, final: bool) -> bool:
        """One chunk of at most MAX_READ bytes; True when there may be more to read."""
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:  # truncated or replaced: start over
                    self.offset, self._partial, self._skipping = 0, b"", False
                if size == self.offset and not (final and self._partial):
                    return False
                f.seek(self.offset)
                chunk = f.read(MAX_READ)
        except OSError:
            return False
        self.offset += len(chunk)
        more = len(chunk) == MAX_READ
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            if not self._skipping:
                self.lines += 1
                self._bad("longer than 64 KiB")
                self.lines -= 1  # counted when its end arrives
            self._skipping, self._partial = True, b""
        for raw in lines:
            self._line(raw)
        if final and not more and self._partial:
            self._line(self._partial)
            self._partial = b""
        return more

    def _line(self, raw: bytes) -> None:
        self.lines += 1
        if self._skipping:  # the end of a line too long to keep (said when it began)
            self._skipping = False
            return
        raw = raw.strip()
        if not raw:
            return
        if len(raw) > MAX_LINE:
            self._bad("longer than 64 KiB")
            return
        parsed = parse_line(raw)
        if isinstance(parsed, str):
            self._bad(parsed)
            return
        values, step = parsed
        self.record(values, step)

    def record(self, values: Mapping[str, float], step: float | None = None) -> None:
        for name, value in values.items():
            series = self.series.get(name)
            if series is None:
                if len(self.series) >= MAX_METRICS:
                    if not self._too_many:
                        self._too_many = True
                        self._warn(f"more than {MAX_METRICS} metrics; {name!r} and later new names are ignored")
                    continue
                series = self.series[name] = Series()
            at = step if step is not None else float(series.seen)
            series.add(at, value)
            self.last[name] = value
            self.steps[name] = at
            self.dirty.add(name)

    # ------------------------------------------------------------------ the stage's summary file
    def read_summary(self, path: Path) -> None:
        """A stage's `metrics` file: one JSON object; its numbers are final values (a point at the last step)."""
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_SUMMARY + 1)
        except FileNotFoundError:
            self._warn(f"the stage's metrics file {path} does not exist")
            return
        except OSError as exc:
            self._warn(f"cannot read the stage's metrics file {path} ({exc.strerror})")
            return
        if len(data) > MAX_SUMMARY:
            self._warn(f"the stage's metrics file {path} is larger than 4 MiB; ignored")
            return
        parsed = parse_line(data)
        if isinstance(parsed, str):
            self._warn(f"the stage's metrics file {path} is {parsed}; ignored")
            return
        values, step = parsed
        if step is None:  # final values: at the last step the run reported, so curves end with them
            step = max(self.steps.values(), default=0.0)
        self.record(values, step)

    # ------------------------------------------------------------------ warnings
    def _bad(self, why: str) -> None:
        self.bad += 1
        if not self.warned:
            self._warn(
                f"ignored a bad line in $COOPY_METRICS ({self.path}, line {self.lines}: {why}); "
                "later bad lines are ignored too"
            )

    def _warn(self, text: str) -> None:
        """One line in the run's log (appended: the command's own output goes on around it)."""
        self.warned = True
        if self.log is None:
            return
        try:
            with open(self.log, "a") as f:
                f.write(f"coopy: metrics: {text}\n")
        except OSError:
            pass

    def take(self) -> list[str]:
        """The metrics changed since the last call, in the order the run first reported them."""
        names = [name for name in self.series if name in self.dirty]
        self.dirty.clear()
        return names


RunKey = tuple[str, str]  # (stage, run name)
OnUpdate = Callable[[RunKey, int, list[MetricRow]], None]


class MetricsTracker:
    """Every live attempt's metrics: its file under the state dir, read on each poll and at the end."""

    def __init__(self, state_dir: Path, on_update: OnUpdate) -> None:
        self.state_dir = state_dir
        self.on_update = on_update
        self._folders: set[Path] = set()
        self.live: dict[RunKey, tuple[int, AttemptMetrics]] = {}

    def path(self, stage: str, name: str, attempt: int) -> Path:
        return self.state_dir / "metrics" / stage / f"{name}.{attempt}.jsonl"

    def begin(self, key: RunKey, attempt: int, log: Path | None, fresh: bool) -> Path:
        """A new attempt (its folder made; the run creates the file when it first reports, and a stale
        file of a crashed earlier start of this attempt is removed), or one adopted after a restart
        (`fresh` False: its file is read again from the start, which rebuilds what the store had)."""
        path = self.path(key[0], key[1], attempt)
        if fresh:
            if path.parent not in self._folders:  # made once per stage: a run that reports creates its file
                path.parent.mkdir(parents=True, exist_ok=True)
                self._folders.add(path.parent)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a crashed earlier start of this attempt number may have left lines
        self.live[key] = (attempt, AttemptMetrics(path, log))
        return path

    def poll(self) -> None:
        for key, (attempt, metrics) in list(self.live.items()):
            if metrics.read():
                self._emit(key, attempt, metrics)

    def end(self, key: RunKey, attempt: int, summary: Path | None = None) -> None:
        """The attempt ended: read its last lines and its stage's summary file, then forget it."""
        entry = self.live.pop(key, None)
        if entry is None or entry[0] != attempt:
            if summary is None:
                return
            path = self.path(key[0], key[1], attempt)
            entry = (attempt, AttemptMetrics(path, None))
        metrics = entry[1]
        metrics.read(final=True)
        if summary is not None:
            metrics.read_summary(summary)
        if metrics.dirty:
            self._emit(key, attempt, metrics)

    def record_for(self, key: object, values: Mapping[str, float]) -> None:
        """Numbers the engine measured for a live attempt (its GPUs' use), sent with the run's own at the next poll."""
        entry = self.live.get(key)  # type: ignore[call-overload]
        if entry is not None:
            entry[1].record(values)

    def forget(self, key: RunKey) -> None:
        self.live.pop(key, None)

    def _emit(self, key: RunKey, attempt: int, metrics: AttemptMetrics) -> None:
        rows = [
            MetricRow(
                key[1],
                key[0],
                name,
                attempt,
                metrics.last[name],
                metrics.steps.get(name),
                tuple(metrics.series[name].points),
            )
            for name in metrics.take()
        ]
        if rows:
            self.on_update(key, attempt, rows)


def last_values(rows: Iterable[tuple[str, str, str, int, float]]) -> dict[RunKey, tuple[int, dict[str, float]]]:
    """(task, stage, name, attempt, value) rows -> per run, (attempt, metric -> last value)."""
    out: dict[RunKey, tuple[int, dict[str, float]]] = {}
    for task, stage, name, attempt, value in rows:
        known = out.get((stage, task))
        if known is None or known[0] < attempt:
            known = out[(stage, task)] = (attempt, {})
        if known[0] == attempt:
            known[1][name] = value
    return out
