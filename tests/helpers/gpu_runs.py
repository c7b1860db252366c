"""A pipeline of GPU runs for the fake NVML tests: each run writes what it got and how many runs were live with
it, can show itself to the fake NVML as a process using memory, and can wait for a file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.cli import coopy_argv

STEP = """
import os, sys, time
log, live, hold, hog, state, wait = sys.argv[1:7]
task = os.environ["COOPY_TASK"]
gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
mark = os.path.join(live, task)
open(mark, "w").close()
count = len(os.listdir(live))
with open(log, "a") as f:
    f.write(f"start {task} {gpus} {count} {os.environ.get('CUDA_DEVICE_ORDER', '-')} {os.environ.get('COOPY_GPUS')}\\n")
if float(hog):  # this process shows itself to NVML on its GPU
    with open(state, "a") as f:
        f.write(f"proc {gpus.split(',')[0]} {os.getpid()} {int(float(hog) * 1024)}\\n")
deadline = time.time() + 30
while wait != "-" and not os.path.exists(wait.replace("TASK", task)):
    if time.time() > deadline:
        sys.exit(3)
    time.sleep(0.05)
time.sleep(float(hold))
os.remove(mark)
with open(log, "a") as f:
    f.write(f"end {task}\\n")
"""


@dataclass(frozen=True)
class Started:
    task: str
    gpus: str
    live: int  # runs live when it started, itself included
    order: str  # CUDA_DEVICE_ORDER
    coopy_gpus: str


def gpu_pipeline(
    tmp: Path,
    resources: str,
    stage_resources: str,
    tasks: int,
    hold: float = 0.5,
    workers: int = 8,
    hog_gb: float = 0.0,
    state: Path | None = None,
    wait: str = "-",
) -> Path:
    """coopy.toml in `tmp`: one stage `train` over `tasks` configurations, each run the step above."""
    step = tmp / "step.py"
    step.write_text(STEP)
    (tmp / "live").mkdir(exist_ok=True)
    argv = [sys.executable, str(step), str(tmp / "runs.log"), str(tmp / "live"), str(hold), str(hog_gb)]
    argv += [str(state or "-"), wait]
    cfg = tmp / "coopy.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [pipeline]
            name = "gpu"
            poll_interval = 0.2
            [resources]
            {resources}
            [tasks.matrix]
            i = {list(range(tasks))}
            [[stages]]
            name = "train"
            command = {argv!r}
            workers = {workers}
            resources = {{ {stage_resources} }}
            """
        ).replace("'", '"')
    )
    return cfg


def started(tmp: Path) -> list[Started]:
    log = tmp / "runs.log"
    lines = log.read_text().splitlines() if log.exists() else []
    out = []
    for line in lines:
        parts = line.split()
        if parts[0] == "start":
            out.append(Started(parts[1], parts[2], int(parts[3]), parts[4], parts[5]))
    return out


def ended(tmp: Path) -> list[str]:
    log = tmp / "runs.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split()[1] for line in lines if line.startswith("end ")]


def run_coopy(cfg: Path, env: dict[str, str], timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    """`coopy run` in the foreground, with `env` (the fake NVML's, or none)."""
    return subprocess.run(
        [*coopy_argv(), "run", str(cfg)],
        cwd=cfg.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def status(cfg: Path, env: dict[str, str]) -> dict[str, Any]:
    """`coopy status --json` with `env` (it loads the config, so it sees the GPUs too); {} when it cannot answer
    yet (an engine starting, a store being written on a loaded machine): callers poll for what they expect."""
    out = subprocess.run(
        [*coopy_argv(), "status", str(cfg), "--json"], cwd=cfg.parent, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        print(f"coopy status: exit {out.returncode}: {out.stderr.strip()}")  # shown if the poll times out
        return {}
    return dict(json.loads(out.stdout))


def start_coopy(cfg: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*coopy_argv(), "run", str(cfg)],
        cwd=cfg.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
