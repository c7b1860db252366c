"""Each system runs one workload in a fresh folder; the same step script, measured the same way.

A system is a function `(workload, folder) -> Plan`: the command line that runs the whole workload
(what a user would type), how to check afterwards that every run happened, and how to clean up what
outlives the command (task-spooler's servers). `run_plan` times a plan to the end; `first_job` times
it only until its first job started, then stops it (the start-up cost at 10,000 configurations).

Times are wall-clock epochs on both sides: the launch is taken just before the process is spawned, the
exit when the kernel says it exited (a pidfd, not a polling loop), the jobs' starts and ends by the
step script's `$EPOCHREALTIME` stamps. So `launch -> first job` and `last job -> exit` are comparable
across systems and with the makespan.
"""

from __future__ import annotations

import ctypes
import os
import select
import shlex
import shutil
import signal
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
PR_SET_CHILD_SUBREAPER = 36
SAMPLE_S = 0.02  # /proc sampling of the tool's own CPU and RSS while it runs


@dataclass
class Measurement:
    system: str
    makespan: float
    peak_rss_mb: float  # largest process of the tool and what it waited for (wait4 ru_maxrss)
    cpu_total_s: float  # the tool plus every command it ran
    tool_cpu_s: float | None = None  # the tool's own process only (/proc, read again once it exited)
    tool_rss_mb: float | None = None  # the tool's own process peak (VmHWM)
    stamps: list[tuple[str, str, float, float]] = field(default_factory=list)
    ok: bool = True
    note: str = ""
    launched: float = 0.0  # epoch seconds, just before the spawn
    exited: float = 0.0  # epoch seconds, when the tool's process exited


@dataclass
class Plan:
    """How one system runs one workload; `missing` says why it cannot (not installed)."""

    system: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    check: Callable[[], str] = lambda: ""  # after the run: '' when every run happened, else what is wrong
    cleanup: Callable[[], None] = lambda: None  # stop what outlives the command (servers); always called
    missing: str = ""
    helper: bool = False  # the tool leaves a helper process behind that reaps the commands (CooPy's spawn helper)


SystemFn = Callable[[Workload, Path], Plan]


def _command(w: Workload, stamps: Path, stage: int, task: str, duration: float) -> list[str]:
    if w.command == "true":
        return ["/bin/true"]
    return [str(STEP), str(stamps), w.stages[stage], task, f"{duration:g}"]


def _own_usage(pid: int) -> tuple[float | None, float | None]:
    """(CPU seconds, VmHWM MB) of one process; VmHWM is gone once it exited (a zombie keeps its CPU)."""
    cpu = rss = None
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        fields = stat[stat.rfind(b")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return cpu, rss


def spawn(argv: list[str], cwd: Path, env: dict[str, str] | None) -> tuple[subprocess.Popen[bytes], float]:
    log = open(cwd / "tool.log", "ab")  # noqa: SIM115 - closed by the caller through proc.stdout's owner
    launched = time.time()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    log.close()
    return proc, launched


def _subreaper(on: bool) -> None:
    """Orphans of what this process starts come back to it (Linux): a helper the tool leaves is waited for here,
    so its CPU and its commands' count."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


def _helpers() -> list[int]:
    """This process's children that are a Python process: the spawn helper, come back to it when the tool exited
    (no other child is alive then; a zombie's cmdline is empty, its name stays)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        name = stat[stat.find(b"(") + 1 : stat.rfind(b")")]
        if int(stat[stat.rfind(b")") + 2 :].split()[1]) == me and name.startswith(b"python"):
            found.append(int(entry))
    return found


def _wait_helpers(timeout: float) -> tuple[float, float]:
    """Wait for the helpers left behind: (their own CPU, their own CPU plus their commands')."""
    own = total = 0.0
    deadline = time.monotonic() + timeout
    for pid in _helpers():
        while time.monotonic() < deadline:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is not None:
                break
            time.sleep(0.01)
        cpu, _ = _own_usage(pid)  # a zombie keeps its CPU time
        _pid, _status, usage = os.wait4(pid, 0)
        own += cpu or 0.0
        total += usage.ru_utime + usage.ru_stime
    return own, total


def measure(
    argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None, helper: bool = False
) -> tuple[float, float, float, float | None, float | None, int, float, float]:
    """Run argv; return wall seconds, ru_maxrss MB, total CPU, own CPU, own peak RSS MB, exit code,
    launch epoch, exit epoch. `helper`: the tool's own CPU includes its spawn helper's, and the total its
    commands'."""
    if helper:
        _subreaper(True)
    proc, launched = spawn(argv, cwd, env)
    start = time.perf_counter()
    pidfd = os.pidfd_open(proc.pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    own_cpu: float | None = None
    own_rss: float | None = None
    timed_out = False
    while not poller.poll(SAMPLE_S * 1000):
        cpu, rss = _own_usage(proc.pid)
        own_cpu, own_rss = cpu if cpu is not None else own_cpu, rss if rss is not None else own_rss
        if time.perf_counter() - start > timeout and not timed_out:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
    exited, wall = time.time(), time.perf_counter() - start
    cpu, _ = _own_usage(proc.pid)  # the zombie's final CPU time, before it is reaped
    own_cpu = cpu if cpu is not None else own_cpu
    _pid, status, usage = os.wait4(proc.pid, 0)
    os.close(pidfd)
    proc.returncode = os.waitstatus_to_exitcode(status)
    code = TIMED_OUT if timed_out else proc.returncode
    total = usage.ru_utime + usage.ru_stime
    if helper:
        helper_own, helper_total = _wait_helpers(timeout)
        _subreaper(False)
        own_cpu = None if own_cpu is None else own_cpu + helper_own
        total += helper_total
    return wall, usage.ru_maxrss / 1024, total, own_cpu, own_rss, code, launched, exited


def read_stamps(path: Path) -> list[tuple[str, str, float, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append((parts[0], parts[1], float(parts[2]), float(parts[3])))
    return out


def run_plan(plan: Plan, wd: Path, timeout: float, expected: int | None) -> Measurement:
    """Run a plan to its end; `expected` stamps (None: the commands do not stamp)."""
    if plan.missing:
        return Measurement(plan.system, 0, 0, 0, ok=False, note=plan.missing)
    try:
        wall, rss, cpu, own_cpu, own_rss, code, launched, exited = measure(
            plan.argv, wd, timeout, plan.env, plan.helper
        )
        stamps = read_stamps(wd / "stamps.txt")
        problem = plan.check() if code == 0 else ""
    finally:
        plan.cleanup()
    m = Measurement(plan.system, wall, rss, cpu, own_cpu, own_rss, stamps, launched=launched, exited=exited)
    if code == TIMED_OUT:
        m.ok, m.note = False, f"did not finish within {timeout:.0f} s (stopped)"
    elif code != 0:
        m.ok, m.note = False, f"exit code {code} (see tool.log)"
    elif expected is not None and len(stamps) != expected:
        m.ok, m.note = False, f"{len(stamps)} of {expected} runs recorded"
    elif problem:
        m.ok, m.note = False, problem
    return m


def first_job(plan: Plan, wd: Path, timeout: float, linger: float = 0.3) -> tuple[float | None, str]:
    """Seconds from launch to the first job's start (its stamp), then the system is stopped.

    The stamp line is written when a job ends, so after the first line appears this waits `linger`
    seconds more and takes the earliest start of all lines then written (a job that started first may
    end later)."""
    if plan.missing:
        return None, plan.missing
    stamps = wd / "stamps.txt"
    proc, launched = spawn(plan.argv, wd, plan.env)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if stamps.exists() and stamps.stat().st_size:
                time.sleep(linger)
                break
            time.sleep(0.005)
        lines = read_stamps(stamps)
        code = proc.poll()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        plan.cleanup()
    if not lines:
        why = f"exited with {code} before any job" if code is not None else f"no job started within {timeout:.0f} s"
        return None, why
    return min(s for _stage, _task, s, _e in lines) - launched, ""


# ====================================================================== the systems
def sequential(w: Workload, wd: Path) -> Plan:
    stamps = wd / "stamps.txt"
    lines = ["#!/bin/bash", "set -e"]
    for task, durations in zip(w.tasks, w.durations, strict=True):
        for k, d in enumerate(durations):
            lines.append(shlex.join(_command(w, stamps, k, task, d)))
    (wd / "all.sh").write_text("\n".join(lines) + "\n")
    return Plan("sequential bash", ["bash", "all.sh"])


def parallel(w: Workload, wd: Path) -> Plan:
    if shutil.which("parallel") is None:
        return Plan("GNU parallel", missing="GNU parallel not installed")
    stamps = wd / "stamps.txt"
    lines = ["#!/bin/bash", "set -e"]
    for k, cap in enumerate(w.caps):
        cmds = wd / f"stage{k}.txt"
        pairs = zip(w.tasks, w.durations, strict=True)
        cmds.write_text("".join(shlex.join(_command(w, stamps, k, t, d[k])) + "\n" for t, d in pairs))
        lines.append(f"parallel --will-cite -j {cap} < {cmds.name}")
    (wd / "stages.sh").write_text("\n".join(lines) + "\n")
    return Plan("GNU parallel", ["bash", "stages.sh"])


def snakemake_exe() -> str | None:
    exe = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    return exe if Path(exe).exists() else None


def snakemake(w: Workload, wd: Path) -> Plan:
    exe = snakemake_exe()
    if exe is None:
        return Plan("Snakemake", missing="snakemake not installed (pip install '.[bench]')")
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
        exe,
        "-s",
        "Snakefile",
        "--cores",
        str(sum(w.caps)),
        "--resources",
        *resources,
        "--scheduler",
        "greedy",
        "--quiet",
        "all",
        "--nolock",
        "--keep-going",
    ]
    return Plan("Snakemake", argv)


def coopy_argv() -> list[str]:
    return [sys.executable, "-m", "coopy_core.cli.main", "run", "coopy.toml"]


def coopy(w: Workload, wd: Path, local_start: str = "wrapper") -> Plan:
    stamps = wd / "stamps.txt"
    named = {t: {f"d{k}": d for k, d in enumerate(ds)} for t, ds in zip(w.tasks, w.durations, strict=True)}
    stages = []
    for k, (stage, cap) in enumerate(zip(w.stages, w.caps, strict=True)):
        cmd = ["/bin/true"] if w.command == "true" else [str(STEP), str(stamps), stage, "{task}", f"{{d{k}}}"]
        stages.append({"name": stage, "command": cmd, "workers": cap})
    pipeline: dict[str, object] = {"name": w.name, "poll_interval": 2}
    if local_start != "wrapper":
        pipeline["local_start"] = local_start
    config = {"pipeline": pipeline, "tasks": {"named": named}, "stages": stages}
    (wd / "coopy.toml").write_text(tomli_w.dumps(config))
    return Plan("CooPy" if local_start == "wrapper" else f"CooPy, local_start = {local_start}", coopy_argv())


def coopy_helper(w: Workload, wd: Path) -> Plan:
    """CooPy with its runs started by the spawn helper (`[pipeline] local_start = "helper"`)."""
    plan = coopy(w, wd, local_start="helper")
    plan.helper = True
    return plan


# ---------------------------------------------------------------------- task-spooler
def tsp_exe() -> str | None:
    """Debian's `tsp`; elsewhere the binary is `ts` (but moreutils' `ts` is another tool: ask it)."""
    for name in ("tsp", "ts"):
        exe = shutil.which(name)
        if exe is None:
            continue
        try:
            out = subprocess.run(
                [exe, "-V"],
                capture_output=True,
                text=True,
                timeout=5,
                env={**os.environ, "TS_SOCKET": "/nonexistent/ts"},
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "spooler" in (out.stdout + out.stderr).lower():
            return exe
    return None


def kill_marked(marker: bytes) -> int:
    """SIGKILL every process whose environment holds `marker` (this run's own TS_SOCKET folder)."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            pass
    return killed


def tsp(w: Workload, wd: Path) -> Plan:
    """task-spooler, chained: one server per stage (its own TS_SOCKET, `tsp -S cap` slots); stage k's job
    of a configuration enqueues that configuration's stage k+1 job on the next server when it ends.

    The driver script starts the servers, enqueues every first-stage job and returns once every
    configuration's chain has ended. task-spooler has no "wait until these are done" across servers
    (a background job keeps none of the enqueuing process's descriptors, `tsp -w` takes one job of one
    server), so each configuration's last job writes one byte into a FIFO the driver reads (a chain that
    fails writes one too): no polling, one `open` and `write` a configuration. The last stage's job is
    therefore `sh -c 'CMD; printf x > fifo'` (the other stages' are `sh -c` anyway, to chain). The
    servers outlive the driver (they are daemons, as for any user): the benchmark reads their job lists
    to check that every job ended with 0, then kills them."""
    exe = tsp_exe()
    if exe is None:
        return Plan("task-spooler", missing="task-spooler not installed (apt-get install task-spooler)")
    stamps = wd / "stamps.txt"
    socks = [wd / f"ts.{k}" for k in range(len(w.stages))]
    fifo = shlex.quote(str(wd / "done.fifo"))

    def job(k: int, task: str, durations: list[float]) -> list[str]:
        own = shlex.join(_command(w, stamps, k, task, durations[k]))
        if k == len(w.stages) - 1:
            return ["sh", "-c", f"{own}; printf x > {fifo}"]
        sock = shlex.quote(str(socks[k + 1]))
        nxt = f"TS_SOCKET={sock} {shlex.quote(exe)} -n {shlex.join(job(k + 1, task, durations))}"
        return ["sh", "-c", f"{own} && {nxt} || printf f > {fifo}"]

    lines = ["#!/bin/bash", "set -e", f"mkfifo {fifo}", f"exec 3<>{fifo}"]
    for sock, cap in zip(socks, w.caps, strict=True):
        lines.append(f"TS_SOCKET={shlex.quote(str(sock))} {shlex.quote(exe)} -S {cap} </dev/null >/dev/null 2>&1")
    first = f"TS_SOCKET={shlex.quote(str(socks[0]))} {shlex.quote(exe)} -n"
    for task, durations in zip(w.tasks, w.durations, strict=True):
        lines.append(f"{first} {shlex.join(job(0, task, durations))}")
    lines.append(f"head -c {len(w.tasks)} <&3 >/dev/null")
    (wd / "chain.sh").write_text("\n".join(lines) + "\n")
    env = {"TMPDIR": str(wd), "TS_MAXFINISHED": "100000000"}

    def check() -> str:
        """Every job of every server finished with 0 (the last ones may still be reporting: a moment)."""
        deadline = time.monotonic() + 5
        while (problem := _tsp_problem()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return problem

    def _tsp_problem() -> str:
        for k, sock in enumerate(socks):
            out = subprocess.run(
                [exe, "-l"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, **env, "TS_SOCKET": str(sock)},
            ).stdout
            ok = sum(
                1 for line in out.splitlines()[1:] if line.split()[1:2] == ["finished"] and line.split()[3:4] == ["0"]
            )
            if ok != len(w.tasks):
                return f"{w.stages[k]}: {ok} of {len(w.tasks)} jobs finished with 0"
        return ""

    def cleanup() -> None:
        for sock in socks:
            if sock.exists():
                subprocess.run(
                    [exe, "-K"],
                    capture_output=True,
                    timeout=10,
                    env={**os.environ, **env, "TS_SOCKET": str(sock)},
                    check=False,
                )
        marker = f"TS_SOCKET={wd}/".encode()
        quiet = 0
        while quiet < 3:  # a job ending meanwhile may still enqueue its next one: until none is left
            quiet = quiet + 1 if kill_marked(marker) == 0 else 0
            time.sleep(0.02)

    return Plan("task-spooler", ["bash", "chain.sh"], env, check, cleanup)


SYSTEMS: dict[str, SystemFn] = {
    "sequential": sequential,
    "parallel": parallel,
    "snakemake": snakemake,
    "tsp": tsp,
    "coopy": coopy,
    "coopy-helper": coopy_helper,
}
