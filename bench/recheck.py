"""R1: re-checking an unchanged large input at start-up (issue 12: content hashes cached by size + mtime).

A one-stage pipeline reads one big input (`inputs = ["big.bin"]`). After a first `coopy run`, three more
starts of the finished pipeline are timed side by side: unchanged (the hash comes from the cache: a
stat), after a `touch` (the file is read again; same content, so nothing re-runs), and the cost of
hashing the file once by itself (`b2sum`) for scale. Every start must run nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIG = """
[tasks.matrix]
x = [1]
[[stages]]
name = "use"
inputs = ["big.bin"]
command = ["sh", "-c", "echo ran >> marks.txt"]
"""


def _coopy(*args: str, cwd: Path) -> float:
    script = Path(sys.executable).with_name("coopy")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "coopy_core"]
    started = time.perf_counter()
    result = subprocess.run([*argv, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"coopy {' '.join(args)} failed: {result.stderr[-500:]}")
    return took


def _best(times: list[float]) -> float:
    return round(min(times), 3)


def run(quick: bool) -> dict[str, Any]:
    size_mb = 64 if quick else 1024
    repeats = 1 if quick else 3
    wd = Path(tempfile.mkdtemp(prefix="bench-R1-"))
    try:
        (wd / "coopy.toml").write_text(CONFIG)
        with open(wd / "big.bin", "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(size_mb):
                f.write(chunk)
        first = _coopy("run", "coopy.toml", cwd=wd)
        unchanged, touched, hashed = [], [], []
        for _ in range(repeats):
            unchanged.append(_coopy("run", "coopy.toml", cwd=wd))
            os.utime(wd / "big.bin")
            touched.append(_coopy("run", "coopy.toml", cwd=wd))
            if shutil.which("b2sum"):
                started = time.perf_counter()
                subprocess.run(["b2sum", str(wd / "big.bin")], capture_output=True, check=True)
                hashed.append(time.perf_counter() - started)
        ran = (wd / "marks.txt").read_text().count("ran")
        table = {
            "input_mb": size_mb,
            "first_run_s": round(first, 3),
            "start_unchanged_s": _best(unchanged),
            "start_after_touch_s": _best(touched),
            "b2sum_s": _best(hashed) if hashed else None,
            "runs_executed": ran,
        }
        targets = [
            {
                "target": f"R1 an unchanged {size_mb} MB input is not read again at start",
                "measured": (
                    f"{table['start_unchanged_s']} s unchanged vs {table['start_after_touch_s']} s after a touch"
                ),
                "met": table["start_unchanged_s"] < table["start_after_touch_s"],
            },
            {
                "target": "R1 a touch without a change re-runs nothing",
                "measured": f"{ran} execution(s) in all",
                "met": ran == 1,
            },
        ]
        return {"table": table, "targets": targets}
    finally:
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
