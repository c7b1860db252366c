"""A pipeline step that counts itself: run as a command (`python marker_step.py MARKS ...`), not imported.

It appends one line per event to MARKS (O_APPEND, one write per line: lines never mix):
  start STAGE RUN ATTEMPT PID        when it starts
  end STAGE RUN ATTEMPT PID          when it ends on its own
  overlap STAGE RUN ATTEMPT PIDS     at its start, when a process of another attempt of its own run (or of
                                     this attempt, started twice), or of a run it needs (`--upstream`), is
                                     still alive: two copies at once
  escaped-end STAGE RUN ATTEMPT PID  when the escaped process of `--escape` ends on its own (it should not)
Options:
  --seconds S        sleep S seconds between start and end (default 0)
  --fail-attempts N  exit 3 at attempts 1..N (the planned failures a retry budget absorbs)
  --escape S         first start `setsid sh -c 'sleep S; echo escaped-end ...'` outside its process group
  --ignore-term      ignore SIGTERM (only SIGKILL stops it)
  --upstream STAGE   a stage whose run of the same name must be gone when this one starts
  --upstream-any STAGE  a stage whose runs must all be gone when this one starts (for a fan-in run)
It learns its stage, run and attempt from COOPY_RUN_ID (`<state_dir>:<stage>/<run>/<attempt>`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

VAR = b"COOPY_RUN_ID="


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _live_run_ids() -> dict[int, str]:
    """COOPY_RUN_ID of every live (non-zombie) process that has one."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rfind(b")") + 2 :].split()[0] in (b"Z", b"X"):
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(VAR):
                found[int(entry)] = item[len(VAR) :].decode(errors="replace")
    return found


def _ancestors() -> set[int]:
    """This process and the ones it was started by (its wrapper carries the same run id)."""
    pid, seen = os.getpid(), set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            break
        pid = int(stat[stat.rfind(b")") + 2 :].split()[1])
    return seen


def _split(run_id: str) -> tuple[str, str, str, str]:
    state_dir, _, rest = run_id.rpartition(":")
    stage, run, attempt = rest.split("/")
    return state_dir, stage, run, attempt


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("marks")
    p.add_argument("--seconds", type=float, default=0.0)
    p.add_argument("--fail-attempts", type=int, default=0)
    p.add_argument("--escape", type=float, default=None)
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--upstream", action="append", default=[])
    p.add_argument("--upstream-any", action="append", default=[])
    args = p.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state_dir, stage, run, attempt = _split(os.environ["COOPY_RUN_ID"])
    me = f"{stage} {run} {attempt}"
    others = []
    mine = _ancestors()
    for pid, rid in _live_run_ids().items():
        if ":hook:" in rid or pid in mine:
            continue
        o_dir, o_stage, o_run, o_attempt = _split(rid)
        if o_dir != state_dir:
            continue
        earlier = o_stage == stage and o_run == run
        needed = (o_stage in args.upstream and o_run == run) or o_stage in args.upstream_any
        if earlier or needed:
            others.append(f"{o_stage}/{o_run}/{o_attempt}:{pid}")
    if others:
        _append(args.marks, f"overlap {me} {','.join(others)}")
    _append(args.marks, f"start {me} {os.getpid()}")
    if args.escape is not None:
        subprocess.Popen(
            ["sh", "-c", f'sleep {args.escape}; echo "escaped-end {me} $$" >> "$0"', args.marks],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if args.seconds:
        time.sleep(args.seconds)
    if int(attempt) <= args.fail_attempts:
        _append(args.marks, f"fail {me} {os.getpid()}")
        return 3
    _append(args.marks, f"end {me} {os.getpid()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
