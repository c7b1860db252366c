"""Executors side by side: how long from CooPy starting a run to its command running, and from the command's
end to CooPy noticing it, for local processes, Slurm jobs and Ray jobs, in one run on this machine.

Each executor runs the same small pipeline (one stage, `runs` configurations, `workers` at once) of a bash
command that stamps its first and last instruction with `$EPOCHREALTIME`; the engine runs in this process
with `poll_interval` seconds. submit-to-running = the command's first stamp minus the run's `started_at`
(taken just before the executor starts it: it includes sbatch / submit_job and the cluster's scheduling);
end-to-noticed = the run's `ended_at` minus the command's last stamp (a pidfd for local runs, one batched
poll for Slurm and Ray, plus Ray's log fetch). A cluster that is not there is started with `.ci/slurm.sh` /
`.ci/ray.sh` (and stopped after) when it can be; otherwise its line says why it was skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
EXECUTORS = ("local", "slurm", "ray")
STAMP = 'echo "s $EPOCHREALTIME" >> "$0"; sleep "$1"; echo "e $EPOCHREALTIME" >> "$0"'


def _script(name: str, command: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COOPY_RAY_BIN=str(Path(sys.executable).with_name("ray")))
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / f"{name}.sh"), command], capture_output=True, text=True, timeout=300, env=env
    )


def _prepare(name: str) -> tuple[str, Callable[[], None], dict[str, str]]:
    """('' if usable, else why not; a clean-up; the environment the executor needs)."""
    if name == "local":
        return "", lambda: None, {}
    if name == "ray" and importlib.util.find_spec("ray") is None:
        return "Ray not installed (pip install -e '.[ray]')", lambda: None, {}
    if name == "slurm" and shutil.which("sbatch") is None:
        return "Slurm not installed (.ci/install-slurm.sh)", lambda: None, {}
    started = False
    if _script(name, "status").returncode != 0:
        if name == "slurm" and os.geteuid() != 0:
            return "the test cluster is not running and starting it needs root", lambda: None, {}
        result = _script(name, "start")
        if result.returncode != 0:
            return f"the test cluster did not start: {result.stderr.strip()[-200:]}", lambda: None, {}
        started = True
    key, _, value = _script(name, "env").stdout.strip().removeprefix("export ").partition("=")

    def cleanup() -> None:
        if started:
            _script(name, "stop")

    return "", cleanup, {key: value}


async def _pipeline(path: Path) -> list[Any]:
    from coopy_core import Engine, load_config

    engine = Engine(load_config(path))
    await engine.start()
    try:
        finished = await asyncio.wait_for(engine.run_until_finished(), 300)
        if not finished:
            raise RuntimeError("some runs failed")
        return list(engine.snapshot().runs)
    finally:
        await engine.shutdown(stop_running=True)


def _measure(name: str, runs: int, workers: int, poll: float, seconds: float) -> dict[str, Any]:
    wd = Path(tempfile.mkdtemp(prefix=f"bench-exec-{name}-"))
    stage: dict[str, Any] = {
        "name": "run",
        "executor": name,
        "workers": workers,
        "command": ["bash", "-c", STAMP, str(wd / "stamps" / "{task}"), f"{seconds:g}"],
    }
    config = {
        "pipeline": {"name": f"latency-{name}", "poll_interval": poll, "state_dir": "state"},
        "tasks": {"matrix": {"n": list(range(runs))}},
        "stages": [stage],
    }
    try:  # the folder goes, whatever happens (a failing executor's line says what)
        (wd / "stamps").mkdir()
        (wd / "coopy.toml").write_text(tomli_w.dumps(config))
        result = asyncio.run(_pipeline(wd / "coopy.toml"))
        to_running, to_noticed = [], []
        for run in result:
            stamps = dict(line.split() for line in (wd / "stamps" / run.task).read_text().splitlines())
            to_running.append(float(stamps["s"]) - float(run.started_at))
            to_noticed.append(float(run.ended_at) - float(stamps["e"]))
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return {
        "executor": name,
        "ok": True,
        "runs": runs,
        "note": "",
        "submit_to_running_median_s": round(statistics.median(to_running), 3),
        "submit_to_running_max_s": round(max(to_running), 3),
        "end_to_noticed_median_s": round(statistics.median(to_noticed), 3),
        "end_to_noticed_max_s": round(max(to_noticed), 3),
    }


def table(rows: list[dict[str, Any]], poll: float) -> str:
    head = (
        "| executor | runs | submit→running median s | max s | end→noticed median s | max s | note |\n"
        "|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        if r["ok"]:
            lines.append(
                f"| {r['executor']} | {r['runs']} | {r['submit_to_running_median_s']} | {r['submit_to_running_max_s']} "
                f"| {r['end_to_noticed_median_s']} | {r['end_to_noticed_max_s']} | poll_interval {poll:g} s |"
            )
        else:
            lines.append(f"| {r['executor']} | – | – | – | – | – | skipped: {r['note']} |")
    return "\n".join(lines)


def run(quick: bool, poll: float = 1.0) -> dict[str, Any]:
    """Every executor that is (or can be made) available; a line each."""
    runs, workers, seconds = (3, 3, 0.5) if quick else (12, 4, 1.0)
    rows: list[dict[str, Any]] = []
    for name in EXECUTORS:
        why, cleanup, env = _prepare(name)
        if why:
            rows.append({"executor": name, "ok": False, "note": why})
            print(f"exec {name:6} skipped: {why}", flush=True)
            continue
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            row = _measure(name, runs, workers, poll, seconds)
        except Exception as exc:  # noqa: BLE001 - one system failing is reported, not fatal
            row = {"executor": name, "ok": False, "note": f"failed: {type(exc).__name__}: {exc}"}
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            cleanup()
        rows.append(row)
        print(f"exec {name:6} {row}", flush=True)
    targets = [
        {
            "target": f"{r['executor']} end-to-noticed ≤ poll_interval + 1 s",
            "measured": f"{r['end_to_noticed_max_s']} s (max of {r['runs']})",
            "met": r["end_to_noticed_max_s"] <= poll + 1.0,
        }
        for r in rows
        if r["ok"] and r["executor"] in ("ray", "slurm")
    ]
    return {
        "poll_interval": poll,
        "rows": rows,
        "table": table(rows, poll),
        "targets": targets,
        "date": dt.date.today().isoformat(),
        "command": "python -m bench.executor_latency" + (" --quick" if quick else ""),
    }


def main(argv: list[str]) -> int:
    """Print the table; with --write, also put it into bench/results.json and BENCHMARKS.md (the rest of
    the report stays as its last full run measured it)."""
    result = run("--quick" in argv)
    print(result["table"])
    if "--write" in argv:
        import json

        path = ROOT / "bench" / "results.json"
        report = json.loads(path.read_text())
        report["executors"] = {k: result[k] for k in ("table", "rows", "date", "command")}
        report["targets"] = [t for t in report["targets"] if "end-to-noticed" not in t["target"]] + result["targets"]
        path.write_text(json.dumps(report, indent=2) + "\n")
        from bench.__main__ import main as bench_main

        bench_main(["--report-only"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
