"""The human form of `coopy status`: a line per stage, then the runs worth naming (running, blocked, failed,
cancelled), at most `SHOWN` of each kind per stage and "and N more" for the rest, so a sweep of thousands
stays readable; `--json` has every run."""

from __future__ import annotations

import time
from typing import Any

from coopy_core.cli.progress import format_duration

SHOWN = 10  # runs named per kind per stage
KINDS = ("running", "blocked", "failed", "cancelled")


def status_lines(status: dict[str, Any], now: float | None = None) -> list[str]:
    now = time.time() if now is None else now
    engine = f"engine running (pid {status['engine_pid']})" if status["engine_pid"] else "no engine running"
    lines = [f"{status['pipeline']}: {status['tasks']} configurations; {engine}"]
    width = max(len(s["name"]) for s in status["stages"])
    for s in status["stages"]:
        c = s["counts"]
        paused = " PAUSED" if s["paused"] else ""
        more = "".join(f", {state} {c[state]}" for state in ("waiting", "blocked") if c.get(state))
        lines.append(
            f"  {s['name']:<{width}} {workers(s)}{paused}: queued {c['queued']}, running {c['running']}, "
            f"done {c['done']}, skipped {c['skipped']}, failed {c['failed']}, cancelled {c['cancelled']}{more}"
        )
    for command in status.get("pending", []):
        lines.append(f"  at the next start: {pending_text(command)}")
    for stage in status["stages"]:
        for kind in KINDS:
            runs = [r for r in status["runs"] if r["stage"] == stage["name"] and r["state"] == kind]
            for r in runs[:SHOWN]:
                lines.extend(_run_lines(r, now))
            if len(runs) > SHOWN:
                lines.append(f"  ... and {len(runs) - SHOWN} more {kind} in {stage['name']} (coopy status --json)")
    return lines


def workers(stage: dict[str, Any]) -> str:
    """`workers 4`, or `workers 4 (config: 2)` when a cap set at run time differs from the config's (it is kept
    at the next start until the config's own value is edited)."""
    config = stage.get("config_workers", stage["workers"])
    return f"workers {stage['workers']}" + (f" (config: {config})" if config != stage["workers"] else "")


def _run_lines(r: dict[str, Any], now: float) -> list[str]:
    name = f"{r['stage']}/{r['task']}"
    if r["state"] == "running":
        took = format_duration(now - r["started_at"]) if r["started_at"] else "--"
        if r.get("job_id"):  # a Slurm or Ray job: its state and node
            return [f"  running: {name} attempt {r['attempt']} ({took}): job {r['job_id']}: {r['reason']}"]
        pid = f", pid {r['pid']}" if r.get("pid") else ""
        return [f"  running: {name} attempt {r['attempt']} ({took}{pid})"]
    if r["state"] == "blocked":
        return [f"  blocked: {name}: {r['reason']}"]
    took = format_duration((r["ended_at"] or 0) - (r["started_at"] or 0)) if r["started_at"] else "--"
    lines = [f"  {r['state']}: {name} attempt {r['attempt']} ({took}): {r['reason']}"]
    if r["log"]:
        lines.append(f"    log: {r['log']}")
    return lines


def pending_text(command: dict[str, Any]) -> str:
    """`rerun s/i=0 and what consumes it`: a command given with no engine running, as the next start will do it."""
    kwargs = command.get("kwargs") or {}
    if command.get("name") == "retry_failed":
        return "retry the failed and cancelled runs" + (f" of {kwargs['stage']}" if kwargs.get("stage") else "")
    if command.get("name") == "rerun":
        what = f"{kwargs.get('stage')}/{kwargs['task']}" if kwargs.get("task") else f"stage {kwargs.get('stage')}"
        return f"run {what} again" + (", and the failed runs downstream" if kwargs.get("downstream") else "")
    return str(command.get("name"))
