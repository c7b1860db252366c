"""W5, scale: CooPy with 1,000,000 (and 100,000) configurations x 2 stages, from the outside.

The pipeline: a matrix `i` (1,000 values) x `j` (n / 1,000), two stages (s2 needs s1) of a no-op that
stamps its start and end (`bench/step.sh` sleeping 50 ms), cap 2: the engine keeps dispatching (~35 runs a second,
so the TUI sees a live event stream) while everything else is measured. In order, for each size:

1. `coopy validate` (its wall time; a refusal is reported with its message, and the rest is skipped);
2. engine start: `coopy run --detach` is launched and timed until the first job's start stamp (the
   engine is up and started its first job); the engine's pid is the one in its lock file;
3. `coopy status` (the summary, live from the engine), best and median of 3 (1 in quick mode);
4. the TUI: `bench/scale_tui.py` in a process of its own, attached to that engine: launch -> first
   frame with rows, then j/k presses (median / p95 / max);
5. the engine's peak RSS (VmHWM, so start, status and the TUI's snapshot all count) and its RSS then;
6. beside the live engine: `coopy plan`, `coopy results --format csv` and `coopy report`, each its wall time,
   its own peak RSS (wait4's ru_maxrss) and the size of what it wrote;
7. `coopy stop --stop-running`; the folder is removed.

Nothing here changes the engine; it is measured through its CLI, its lock file and its socket.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tomli_w

from bench.systems import STEP

COOPY = [sys.executable, "-m", "coopy_core.cli.main"]
STEP_SECONDS = 0.05


def _config(wd: Path, n: int) -> Path:
    width = 1000 if n >= 1000 else n
    config = {
        "pipeline": {"name": f"W5-{n}", "poll_interval": 2},
        "tasks": {"matrix": {"i": list(range(width)), "j": list(range(max(1, n // width)))}},
        "stages": [
            {
                "name": "s1",
                "workers": 2,
                "command": [str(STEP), str(wd / "stamps.txt"), "s1", "{task}", f"{STEP_SECONDS:g}"],
            },
            {
                "name": "s2",
                "needs": ["s1"],
                "workers": 2,
                "command": [str(STEP), str(wd / "stamps.txt"), "s2", "{task}", f"{STEP_SECONDS:g}"],
            },
        ],
    }
    path = wd / "coopy.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def _timed(argv: list[str], cwd: Path, timeout: float) -> tuple[float, int, str]:
    started = time.perf_counter()
    try:
        out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, -1, f"did not finish within {timeout:.0f} s"
    took = time.perf_counter() - started
    last = (out.stderr.strip().splitlines() or [""])[-1]
    return took, out.returncode, last


def _timed_rss(argv: list[str], cwd: Path, out: Path, timeout: float) -> tuple[float, int, float]:
    """(wall seconds, exit code, the command's peak RSS in MB) of a command whose output goes to `out`."""
    started = time.perf_counter()
    with out.open("w") as sink:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.DEVNULL)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return time.perf_counter() - started, proc.returncode, round(usage.ru_maxrss / 1024, 1)


def _status(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return out


def _engine_pid(wd: Path) -> int | None:
    try:
        text = (wd / ".coopy" / "engine.lock").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _first_stamp(stamps: Path) -> float | None:
    try:
        lines = stamps.read_text().splitlines()
    except OSError:
        return None
    starts = [float(line.split()[2]) for line in lines if len(line.split()) == 4]
    return min(starts) if starts else None


def measure(n: int, quick: bool) -> dict[str, Any]:
    """Every W5 number for n configurations; a step that could not be measured says why in `notes`."""
    wd = Path(tempfile.mkdtemp(prefix=f"bench-W5-{n}-"))
    row: dict[str, Any] = {"configurations": n, "notes": []}
    pid: int | None = None
    try:
        path = _config(wd, n)
        took, code, last = _timed([*COOPY, "validate", str(path)], wd, 600)
        row["validate_s"] = round(took, 3)
        if code != 0:
            row["validate_s"] = None
            row["refused"] = last
            row["notes"].append(f"coopy validate exited {code}: {last}")
            return row
        # engine start: launch -> the first job's start stamp
        launched = time.time()
        detach = subprocess.Popen(
            [*COOPY, "run", "--detach", str(path)],
            cwd=wd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        first: float | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            first = _first_stamp(wd / "stamps.txt")
            if first is not None:
                break
            if pid is None:
                pid = _engine_pid(wd)
            if detach.poll() not in (None, 0) and pid is None:
                break
            time.sleep(0.01)
        detach_out = detach.communicate(timeout=600)[0].strip()
        pid = pid or _engine_pid(wd)
        if detach.returncode != 0:
            row["notes"].append(f"coopy run --detach exited {detach.returncode}: {detach_out[-300:]}")
        if first is None or pid is None:
            row["notes"].append("no job started within 600 s" if pid else "the engine did not start")
            return row
        row["engine_start_s"] = round(first - launched, 3)
        row["rss_after_start_mb"] = _status(pid).get("VmRSS")
        # coopy status: the summary, live from the engine
        times = []
        for _ in range(1 if quick else 3):
            took, code, last = _timed([*COOPY, "status", str(path)], wd, 600)
            if code != 0:
                row["notes"].append(f"coopy status exited {code}: {last}")
                break
            times.append(took)
        if times:
            row["status_s"] = round(statistics.median(times), 3)
            row["status_best_s"] = round(min(times), 3)
        # the TUI, attached to this engine
        presses = 20 if quick else 60
        launched = time.time()
        tui = subprocess.run(
            [sys.executable, "-m", "bench.scale_tui", str(path), repr(launched), str(presses)],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=900,
        )
        lines = [line for line in tui.stdout.splitlines() if line.startswith("{")]
        if tui.returncode == 0 and lines:
            row["tui"] = json.loads(lines[-1])
        else:
            row["notes"].append(f"the TUI run exited {tui.returncode}: {tui.stderr.strip()[-300:]}")
        mem = _status(pid)
        row["engine_peak_rss_mb"], row["engine_rss_mb"] = mem.get("VmHWM"), mem.get("VmRSS")
        # what reads the store beside the live engine: plan, results (CSV) and the HTML report
        for verb, extra in (("plan", []), ("results", ["--format", "csv"]), ("report", ["-o", str(wd / "r.html")])):
            out = wd / f"{verb}.out"
            took, code, rss = _timed_rss([*COOPY, verb, str(path), *extra], wd, out, 900)
            if code != 0:
                row["notes"].append(f"coopy {verb} exited {code}")
                continue
            row[f"{verb}_s"], row[f"{verb}_rss_mb"] = round(took, 2), rss
            made = wd / "r.html" if verb == "report" else out
            row[f"{verb}_output_mb"] = round(made.stat().st_size / 2**20, 2)
        stamps = wd / "stamps.txt"
        row["runs_done_meanwhile"] = len(stamps.read_text().splitlines()) if stamps.exists() else 0
        return row
    finally:
        _stop(wd, pid)
        shutil.rmtree(wd, ignore_errors=True)


def _stop(wd: Path, pid: int | None) -> None:
    """Stop the background engine and its running commands; kill it (by its pid) if it does not go."""
    pid = pid or _engine_pid(wd)
    if pid is None:
        return
    subprocess.run(
        [*COOPY, "stop", "--stop-running", str(wd / "coopy.toml")],
        cwd=wd,
        capture_output=True,
        timeout=120,
        check=False,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
    time.sleep(STEP_SECONDS * 2)  # a command the stop ended writes nothing after this


def run(quick: bool) -> dict[str, Any]:
    sizes = (20_000,) if quick else (1_000_000, 100_000)
    rows = []
    for n in sizes:
        row = measure(n, quick)
        rows.append(row)
        print(f"W5   {n:>9,} configurations: {_line(row)}", flush=True)
    return {"rows": rows}


def _line(row: dict[str, Any]) -> str:
    tui = row.get("tui") or {}
    keys = tui.get("keys") or {}
    parts = [
        f"validate {row.get('validate_s')} s",
        f"engine start {row.get('engine_start_s')} s",
        f"status {row.get('status_s')} s",
        f"TUI first frame {tui.get('first_frame_s')} s",
        f"j/k p95 {keys.get('p95_ms')} ms",
        f"engine peak RSS {row.get('engine_peak_rss_mb')} MB",
        *(
            f"{verb} {row.get(f'{verb}_s')} s / {row.get(f'{verb}_rss_mb')} MB / {row.get(f'{verb}_output_mb')} MB out"
            for verb in ("plan", "results", "report")
        ),
    ]
    return ", ".join(parts) + "".join(f"  [{n}]" for n in row["notes"])


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
