"""Each system runs one workload in a fresh folder; the same step script, measured the same way."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from bench.workloads import Workload

STEP = Path(__file__).with_name("step.sh").resolve()
TICK = os.sysconf("SC_CLK_TCK")
TIMED_OUT = -1000


@dataclass
class Measurement:
    system: str
    makespan: float
    peak_rss_mb: float  # largest process of the tool and what it waited for (wait4 ru_maxrss)
    cpu_total_s: float  # the tool plus every command it ran
    tool_cpu_s: float | None = None  # the tool's own process only (sampled from /proc)
    tool_rss_mb: float | None = None  # the tool's own process peak (VmHWM)
    stamps: list[tuple[str, str, float, float]] = field(default_factory=list)
    ok: bool = True
    note: str = ""


def _command(w: Workload, stamps: Path, stage: int, task: str, duration: float) -> list[str]:
    if w.command == "true":
        return ["/bin/true"]
    return [str(STEP), str(stamps), w.stages[stage], task, f"{duration:g}"]


def measure(argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[
    float, float, float, float | None, float | None, int
]:
    """Run argv; return wall seconds, ru_maxrss MB, total CPU, own CPU, own peak RSS MB, exit code."""
    log = open(cwd / "tool.log", "wb")  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})}, start_new_session=True,
    )
    own_cpu: float | None = None
    own_rss: float | None = None
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            stat = Path(f"/proc/{proc.pid}/stat").read_bytes()
            fields = stat[stat.rfind(b")") + 2 :].split()
            own_cpu = (int(fields[11]) + int(fields[12])) / TICK
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    own_rss = int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        if time.perf_counter() - start > timeout and not timed_out:
            timed_out = True
            os.killpg(proc.pid, 9)
        time.sleep(0.02)
    wall = time.perf_counter() - start
    log.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    code = TIMED_OUT if timed_out else proc.returncode
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, own_cpu, own_rss, code


def read_stamps(path: Path) -> list[tuple[str, str, float, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stage, task, s, e = line.split()
        out.append((stage, task, float(s), float(e)))
    return out


def _finish(
    name: str, w: Workload, wd: Path, argv: list[str], timeout: float, env: dict[str, str] | None = None
) -> Measurement:
    wall, rss, cpu, own_cpu, own_rss, code = measure(argv, wd, timeout, env)
    stamps = read_stamps(wd / "stamps.txt")
    m = Measurement(name, wall, rss, cpu, own_cpu, own_rss, stamps)
    expected = w.runs if w.command == "step" else None
    if code == TIMED_OUT:
        m.ok, m.note = False, f"did not finish within {timeout:.0f} s (stopped)"
    elif code != 0:
        m.ok, m.note = False, f"exit code {code} (see {wd / 'tool.log'})"
    elif expected is not None and len(stamps) != expected:
        m.ok, m.note = False, f"{len(stamps)} of {expected} runs recorded"
    return m


def run_sequential(w: Workload, wd: Path, timeout: float) -> Measurement:
    stamps = wd / "stamps.txt"
    lines = ["#!/bin/bash", "set -e"]
    for task, durations in zip(w.tasks, w.durations, strict=True):
        for k, d in enumerate(durations):
            lines.append(shlex.join(_command(w, stamps, k, task, d)))
    (wd / "all.sh").write_text("\n".join(lines) + "\n")
    return _finish("sequential bash", w, wd, ["bash", "all.sh"], timeout)


def run_parallel(w: Workload, wd: Path, timeout: float) -> Measurement:
    if shutil.which("parallel") is None:
        return Measurement("GNU parallel", 0, 0, 0, ok=False, note="GNU parallel not installed")
    stamps = wd / "stamps.txt"
    lines = ["#!/bin/bash", "set -e"]
    for k, cap in enumerate(w.caps):
        cmds = wd / f"stage{k}.txt"
        pairs = zip(w.tasks, w.durations, strict=True)
        cmds.write_text("".join(shlex.join(_command(w, stamps, k, t, d[k])) + "\n" for t, d in pairs))
        lines.append(f"parallel --will-cite -j {cap} < {cmds.name}")
    (wd / "stages.sh").write_text("\n".join(lines) + "\n")
    return _finish("GNU parallel", w, wd, ["bash", "stages.sh"], timeout)


def run_snakemake(w: Workload, wd: Path, timeout: float) -> Measurement:
    exe = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    if not Path(exe).exists():
        return Measurement("Snakemake", 0, 0, 0, ok=False, note="snakemake not installed (pip install '.[bench]')")
    stamps = wd / "stamps.txt"
    durations = {t: d for t, d in zip(w.tasks, w.durations, strict=True)}
    rules = [f"TASKS = {w.tasks!r}", f"DUR = {durations!r}", "", "rule all:"]
    rules.append(f'    input: expand("out/{{t}}.{w.stages[-1]}", t=TASKS)')
    for k, stage in enumerate(w.stages):
        rules.append(f"\nrule {stage}:")
        if k:
            rules.append(f'    input: "out/{{t}}.{w.stages[k - 1]}"')
        rules.append(f'    output: "out/{{t}}.{stage}"')
        rules.append(f"    resources: s_{stage}=1")
        rules.append(f"    params: d=lambda wc: DUR[wc.t][{k}]")
        if w.command == "true":
            cmd = "/bin/true"
        else:
            cmd = f"{shlex.quote(str(STEP))} {shlex.quote(str(stamps))} {stage} {{wildcards.t}} {{params.d}}"
        rules.append(f'    shell: "{cmd} && touch {{output}}"')
    (wd / "Snakefile").write_text("\n".join(rules) + "\n")
    resources = [f"s_{s}={c}" for s, c in zip(w.stages, w.caps, strict=True)]
    argv = [
        exe, "-s", "Snakefile", "--cores", str(sum(w.caps)), "--resources", *resources,
        "--scheduler", "greedy", "--quiet", "all", "--nolock", "--keep-going",
    ]
    return _finish("Snakemake", w, wd, argv, timeout)


def run_coopy(w: Workload, wd: Path, timeout: float) -> Measurement:
    stamps = wd / "stamps.txt"
    named = {t: {f"d{k}": d for k, d in enumerate(ds)} for t, ds in zip(w.tasks, w.durations, strict=True)}
    stages = []
    for k, (stage, cap) in enumerate(zip(w.stages, w.caps, strict=True)):
        cmd = ["/bin/true"] if w.command == "true" else [str(STEP), str(stamps), stage, "{task}", f"{{d{k}}}"]
        stages.append({"name": stage, "command": cmd, "workers": cap})
    config = {"pipeline": {"name": w.name, "poll_interval": 2}, "tasks": {"named": named}, "stages": stages}
    (wd / "coopy.toml").write_text(tomli_w.dumps(config))
    return _finish("CooPy", w, wd, [sys.executable, "-m", "coopy_core.cli", "run", "coopy.toml"], timeout)


SYSTEMS: dict[str, Callable[[Workload, Path, float], Measurement]] = {
    "sequential": run_sequential,
    "parallel": run_parallel,
    "snakemake": run_snakemake,
    "coopy": run_coopy,
}
