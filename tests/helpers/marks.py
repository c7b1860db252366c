"""The marker lines `marker_step.py` appends: every execution of a run counted, and every overlap seen."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

MARKER_STEP = Path(__file__).with_name("marker_step.py")


def step_argv(marks: Path, *options: str) -> str:
    """A TOML array for a stage's `command`: the marker step with these options."""
    items = [sys.executable, str(MARKER_STEP), str(marks), *options]
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


@dataclass(frozen=True)
class Mark:
    kind: str  # start | end | fail | overlap | escaped-end
    stage: str
    run: str
    attempt: int
    rest: str  # a pid, or for overlap the processes that were still alive


def read_marks(path: Path) -> list[Mark]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, stage, run, attempt, rest = line.split(" ", 4)
        out.append(Mark(kind, stage, run, int(attempt), rest))
    return out


def starts(marks: list[Mark]) -> Counter[tuple[str, str]]:
    """How many times each (stage, run) was executed."""
    return Counter((m.stage, m.run) for m in marks if m.kind == "start")


def of_kind(marks: list[Mark], kind: str) -> list[Mark]:
    return [m for m in marks if m.kind == kind]
