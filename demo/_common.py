"""Shared bits of the demo steps: argument parsing and a deterministic pseudo-duration."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path


def parse(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--task", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--attempt", type=int, default=1)
    p.add_argument("--out", default="demo/out")
    return p.parse_args()


def duration(name: str, low: float, high: float) -> float:
    """Same configuration, same duration: runs are repeatable, but differ from each other."""
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return low + (high - low) * h


def work(label: str, seconds: float, steps: int = 5) -> None:
    for i in range(1, steps + 1):
        time.sleep(seconds / steps)
        print(f"{label}: step {i}/{steps}", flush=True)


def write_json(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(1)
