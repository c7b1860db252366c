"""Cancel sends every process of a run one SIGTERM — its process group in one killpg, what escaped the group
(its own session, carrying the run's id) from the sweep — and SIGKILL only after the grace. A process that
traps SIGTERM to clean up and takes its time (2 s here, inside the 3 s grace) must see its handler run once:
a second SIGTERM would run it twice. Each process writes one line per SIGTERM it receives."""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from coopy_core import RunState
from tests.helpers.engine import EngineFactory, wait_state, wait_until, write_config
from tests.helpers.processes import kill_all, processes_mentioning, wait_gone
from tests.helpers.waiting import poll

# argv: <role> <terms file> <ready file>. The leader starts two children in its group and one in a new session;
# every process writes "<role> <pid>" to the terms file per SIGTERM and exits 2 s after the first.
TREE = r"""
import os, signal, subprocess, sys, time

role, terms, ready = sys.argv[1:4]
first = []


def on_term(signum, frame):
    with open(terms, "a") as f:
        f.write(f"{role} {os.getpid()}\n")
    first.append(time.monotonic())


signal.signal(signal.SIGTERM, on_term)
if role == "leader":
    for child, own_session in (("child-1", False), ("child-2", False), ("escaped", True)):
        subprocess.Popen([sys.executable, __file__, child, terms, ready], start_new_session=own_session)
with open(ready, "a") as f:
    f.write(f"{role}\n")
while not first or time.monotonic() - first[0] < 2.0:
    time.sleep(0.05)
"""

ROLES = ["child-1", "child-2", "escaped", "leader"]
GROUP = ["child-1", "child-2", "leader"]  # the run's process group (with the wrapper); "escaped" left it


def handled(terms: Path) -> list[str]:
    """The roles of the processes that wrote a SIGTERM line, sorted."""
    return sorted(line.split()[0] for line in terms.read_text().splitlines()) if terms.exists() else []


async def test_cancel_sends_each_process_one_sigterm(tmp_path: Path, start_engine: EngineFactory) -> None:
    (tmp_path / "tree.py").write_text(TREE)
    terms, ready = tmp_path / "terms", tmp_path / "ready"
    argv = [sys.executable, str(tmp_path / "tree.py"), "leader", str(terms), str(ready)]
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.named]
        t = {{ i = 0 }}
        [[stages]]
        name = "s"
        command = {json.dumps(argv)}
        """,
    )
    engine = await start_engine(cfg)
    prefix = f"COOPY_RUN_ID={tmp_path / '.coopy'}:s/t/"
    try:
        await wait_until(
            lambda: ready.exists() and sorted(ready.read_text().split()) == ROLES, "every process to trap SIGTERM"
        )
        engine.cancel("t", "s")  # the group's SIGTERM now, in one killpg; the sweep looks at the next turn
        # Blocking on purpose: the engine's loop does not turn until every process of the group has handled its
        # SIGTERM, so a second one from the sweep would run a handler again (sent sooner, it could merge with the
        # first while that was still pending, and go unseen).
        poll(lambda: handled(terms) == GROUP, 10, "the group's processes to handle their SIGTERM", interval=0.01)
        await wait_state(engine, "t", "s", RunState.CANCELLED)
        await wait_gone(lambda: processes_mentioning(prefix, environ=True), "the cancelled run", timeout=15)
        received = collections.Counter(terms.read_text().splitlines())
        assert sorted(line.split()[0] for line in received) == ROLES, f"every process gets a SIGTERM: {received}"
        twice = {line: n for line, n in received.items() if n != 1}
        assert not twice, f"a process got more than one SIGTERM: {twice}"
    finally:
        kill_all(processes_mentioning(prefix, environ=True))
