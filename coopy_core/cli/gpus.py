"""`coopy gpus [CONFIG]`: one line per GPU NVML sees: its memory used by other processes, used and reserved by
CooPy's runs, free, and which runs are on it. A process is CooPy's when its environment carries a
COOPY_RUN_ID (any pipeline of this user); with CONFIG, that pipeline's running runs' reservations count too."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coopy_core.cli.common import EXIT_OK
from coopy_core.gpus.nvml import GpuSeen, NvmlMissing, read
from coopy_core.loader import load_target

GB = 1024.0


def gpus(args: argparse.Namespace) -> int:
    try:
        seen = read()
    except NvmlMissing as exc:
        print(f"coopy: {exc}", file=sys.stderr)
        return 1
    reserved: dict[str, list[tuple[str, float | None]]] = {}  # GPU id -> (run, declared GB or None: whole)
    if args.config:
        for gpu, run, mem in _reservations(args.config):
            reserved.setdefault(gpu, []).append((run, mem))
    if not seen:
        print("no GPU")
    for g in seen:
        print(_line(g, reserved.get(str(g.index), []) + reserved.get(g.uuid, [])))
    return EXIT_OK


def _line(g: GpuSeen, held: list[tuple[str, float | None]]) -> str:
    others = 0.0
    ours: dict[str, float] = {}
    for pid, mb in g.processes:
        run = _run_of(pid)
        if run is None:
            others += mb
        else:
            ours[run] = ours.get(run, 0.0) + mb
    runs = dict.fromkeys([r for r, _ in held] + sorted(ours))
    booked = sum(max(mem * GB if mem is not None else g.total_mb, ours.get(r, 0.0)) for r, mem in held)
    booked += sum(mb for r, mb in ours.items() if r not in {h for h, _ in held})
    used = sum(ours.values())
    declared = sum(mem * GB if mem is not None else g.total_mb for _, mem in held)
    free = max(0.0, g.total_mb - others - booked)
    return (
        f"gpu{g.index} {g.name}, {g.total_mb / GB:.1f} GB: others {others / GB:.1f} GB, coopy {used / GB:.1f} GB used"
        f" / {declared / GB:.1f} GB reserved, free {free / GB:.1f} GB; runs: {', '.join(runs) or '-'}"
    )


def _run_of(pid: int) -> str | None:
    """`stage/run` of a CooPy run's process (its COOPY_RUN_ID), None for anyone else's."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(b"COOPY_RUN_ID="):
            rest = entry.decode(errors="replace").rpartition(":")[2]
            return "/".join(rest.split("/")[:2])
    return None


def _reservations(target: str) -> list[tuple[str, str, float | None]]:
    from coopy_core.report.status import read_status
    from coopy_core.wire.live import live_status

    config = load_target(target)
    status = live_status(config, summary=False) or read_status(config)
    out = []
    for r in status["runs"]:
        held = r.get("resources") or {}
        if r.get("state") != "running" or not isinstance(held.get("gpus"), list):
            continue
        mem = held.get("gpu_mem_gb")
        for gpu in held["gpus"]:
            out.append((str(gpu), f"{r['stage']}/{r['task']}", float(mem) if isinstance(mem, int | float) else None))
    return out
