"""`python -m bench.spawn_floor`: the per-run floor of two start designs, without the engine (issue 26).

3,000 x `/bin/true` at cap 2, each run's output to a log file it gets, started by one Python process that
waits for its children: (a) today's start, a `/bin/sh` wrapper per run writing the exit status into a
reserve file made for it; (b) the command exec'd directly, its exit status appended to one file by the
spawner, which is its parent (what a spawn helper would do). Alternated twice, beside a sequential bash loop
of the same command. Prints runs/s and the spawner's CPU per run. Nothing here is CooPy's code: it measures
what any engine on top of each design could at best reach on this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

RUNS = 3000
CAP = 2
WRAPPER = 'cd "$1" || exit 126; shift; "$@"; c=$?; printf "%s\\n" "$c" 1<> "$COOPY_STATUS_FILE"; exit $c'
RESERVE = b" " * 15 + b"\n"


def _start(wrapped: bool, root: str, i: int, env: dict[str, str]) -> int:
    log = os.open(f"{root}/logs/{i}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, log, 1),
        (os.POSIX_SPAWN_DUP2, log, 2),
    ]
    try:
        if not wrapped:
            return os.posix_spawn("/bin/true", ["/bin/true"], env, file_actions=actions, setsid=True)
        status = f"{root}/status/{i}.status"
        fd = os.open(status, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        os.write(fd, RESERVE)
        os.close(fd)
        argv = ["/bin/sh", "-c", WRAPPER, "coopy-run", root, "/bin/true"]
        return os.posix_spawn("/bin/sh", argv, {**env, "COOPY_STATUS_FILE": status}, file_actions=actions, setsid=True)
    finally:
        os.close(log)


def spawner(wrapped: bool, root: str) -> tuple[float, float]:
    """(runs/s, the spawner's CPU ms per run)."""
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(f"{root}/logs")
    os.makedirs(f"{root}/status")
    env = dict(os.environ)
    running: set[int] = set()
    started = ended = 0
    wall, cpu = time.perf_counter(), time.process_time()
    with open(f"{root}/statuses", "ab", buffering=0) as statuses:
        while ended < RUNS:
            while len(running) < CAP and started < RUNS:
                running.add(_start(wrapped, root, started, env))
                started += 1
            pid, status = os.wait()
            running.discard(pid)
            ended += 1
            if not wrapped:
                statuses.write(b"%d %d\n" % (pid, os.waitstatus_to_exitcode(status)))
    return RUNS / (time.perf_counter() - wall), 1000 * (time.process_time() - cpu) / RUNS


def bash_loop() -> float:
    wall = time.perf_counter()
    subprocess.run(["bash", "-c", f"for i in $(seq {RUNS}); do /bin/true; done"], check=True)
    return RUNS / (time.perf_counter() - wall)


def main() -> None:
    root = tempfile.mkdtemp(prefix="coopy-spawn-floor-")
    try:
        for _ in range(2):
            for wrapped, name in ((True, "shell wrapper + reserve"), (False, "direct + one status file")):
                rate, ms = spawner(wrapped, f"{root}/w")
                print(f"{name:26s} {rate:7.0f} runs/s   spawner CPU {ms:.3f} ms/run")
            print(f"{'sequential bash loop':26s} {bash_loop():7.0f} runs/s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
