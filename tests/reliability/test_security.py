"""Security: values never reach a shell unquoted, task names never place a file outside its directory,
files follow the user's umask, the control socket is 0600 in a folder others cannot write to."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coopy_core.tasks import task_name
from coopy_core.wire.server import socket_path
from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config
from tests.helpers.processes import wait_no_processes
from tests.helpers.waiting import wait_for

PY = sys.executable
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._+=,@-]*$"

# each would leave a file named PWNED* behind if a shell ever read it unquoted
HOSTILE = {
    "semicolon": "x; touch PWNED1",
    "subst": "$(touch PWNED2)",
    "backticks": "`touch PWNED3`",
    "and": "a && touch PWNED4",
    "pipe": "| touch PWNED5",
    "newline": "a\ntouch PWNED6",
    "redirect": "> PWNED7",
    "squote-break": "'; touch PWNED8; '",
    "dquote-break": '"; touch PWNED9; "',
    "vars": "$HOME ${PATH} $0",
    "glob": "*",
    "option": "--help",
    "braces": "{task}",
    "path": "../../etc/x",
    "empty": "",
    "unicode": "naïve ✓ \t tab",
}
# matrix values: the derived task names must come out safe
MATRIX_VALUES = ["$(touch PWNED10)", "a;touch PWNED11", "../../etc/passwd", "/abs/path", "..", "a/b/../c"]

# writes its argv and $V as JSON to out/<stage>.<task>.json (task names are safe file names)
RECORD = """import json, os, sys
stage, task, *values = sys.argv[1:]
os.makedirs("out", exist_ok=True)
with open(f"out/{stage}.{task}.json", "w") as f:
    json.dump({"values": values, "env": os.environ.get("V")}, f)
"""


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_hostile_values_never_reach_a_shell_unquoted(tmp_path: Path, report: dict[str, Any]) -> None:
    (tmp_path / "record.py").write_text(RECORD)
    named = "\n".join(f"{name} = {{ v = {json.dumps(value)} }}" for name, value in HOSTILE.items())
    py = json.dumps(PY)
    shell_cmd = json.dumps(f"{shlex.quote(PY)} record.py {{stage}} {{task}} {{v}} pre-{{v}} && echo {{v}} >/dev/null")
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        name = "hostile"
        [tasks.named]
        {named}
        [tasks.matrix]
        v = {json.dumps(MATRIX_VALUES)}

        [[stages]]
        name = "argv"
        workers = 4
        env = {{ V = "{{v}}" }}
        command = [{py}, "record.py", "{{stage}}", "{{task}}", "{{v}}", "pre-{{v}}"]

        # the safe way to use a shell in a hook: values as positional arguments, never inside the script
        on_done = ["sh", "-c", "printf %s \\"$1\\" > out/hookshell.$2.json", "sh", "{{v}}", "{{task}}"]

        [[stages]]
        name = "split"
        workers = 4
        command = {json.dumps(f"{shlex.quote(PY)} record.py {{stage}} {{task}} {{v}} 'pre-{{v}}'")}

        [[stages]]
        name = "shell"
        workers = 4
        shell = true
        env = {{ V = "{{v}}" }}
        command = {shell_cmd}
        on_done = [{py}, "record.py", "hook", "{{task}}", "{{v}}", "pre-{{v}}"]
        """,
    )
    out = coopy("run", str(cfg), cwd=tmp_path, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    state = status(cfg)
    expected = {**HOSTILE, **{task_name({"v": value}): value for value in MATRIX_VALUES}}
    assert len(expected) == len(HOSTILE) + len(MATRIX_VALUES)
    assert {r["task"] for r in state["runs"]} == set(expected), "every configuration ran"
    hooks = [f"{kind}.{t}.json" for t in expected for kind in ("hook", "hookshell")]
    wait_for(lambda: all((tmp_path / "out" / h).exists() for h in hooks), "every hook", 30)
    for task, value in expected.items():
        assert re.match(SAFE_NAME, task), f"unsafe task name {task!r}"
        for stage in ("argv", "split", "shell", "hook"):
            got = json.loads((tmp_path / "out" / f"{stage}.{task}.json").read_text())
            assert got["values"] == [value, f"pre-{value}"], f"{stage}/{task}: {got['values']!r} != {value!r}"
            if stage in ("argv", "shell"):
                assert got["env"] == value, f"{stage}/{task}: env V {got['env']!r}"
    for task, value in expected.items():
        assert (tmp_path / "out" / f"hookshell.{task}.json").read_text() == value
    pwned = sorted(str(p) for p in tmp_path.rglob("PWNED*")) + sorted(str(p) for p in Path.cwd().glob("PWNED*"))
    assert pwned == [], f"a value was run by a shell: {pwned}"
    log_dir = (tmp_path / ".coopy" / "logs").resolve()
    for r in state["runs"]:
        assert Path(r["log"]).resolve().is_relative_to(log_dir), r["log"]
    report.update({"hostile values": len(expected), "runs": len(state["runs"]), "hooks": len(hooks), "side effects": 0})


TRAVERSALS = ["../../etc/x", "..", "../x", "a/b", "/etc/x", "./x", "x/../../y", ".hidden", "x\n../y"]


def test_task_names_with_paths_are_refused_and_write_nothing(tmp_path: Path, report: dict[str, Any]) -> None:
    """[tasks.named] "../../etc/x" (and friends): exit 2, one clear line, nothing written anywhere."""
    tried = 0
    for name in TRAVERSALS:
        project = tmp_path / f"p{tried}" / "deep"
        project.mkdir(parents=True)
        cfg = write_config(
            project,
            f"""
            [tasks.named]
            {json.dumps(name)} = {{ x = 1 }}
            ok = {{ x = 2 }}
            [[stages]]
            name = "s"
            command = ["touch", "ran-{{task}}"]
            """,
        )
        before = _tree(tmp_path)
        for command in ("validate", "run"):
            out = coopy(command, str(cfg), cwd=project, timeout=60)
            assert out.returncode == 2, f"{name!r}: exit {out.returncode}: {out.stderr}"
            assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
            assert str(cfg) in out.stderr and "tasks.named." in out.stderr and "not a valid task name" in out.stderr
        assert _tree(tmp_path) == before, f"{name!r}: something was written"
        tried += 1
    # a matrix parameter NAME is part of every derived name: it must be a plain name
    cfg = write_config(tmp_path, '[tasks.matrix]\n"../../etc/x" = [1]\n[[stages]]\nname = "s"\ncommand = ["true"]\n')
    before = _tree(tmp_path)
    out = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 2 and "tasks.matrix.../../etc/x" in out.stderr and "plain name" in out.stderr
    assert _tree(tmp_path) == before
    report.update({"bad inputs tried": tried + 1, "written outside": 0})


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[list[Path]]:
    """Configs whose background engines are stopped (and their commands) whatever happens."""
    configs: list[Path] = []
    yield configs
    for cfg in configs:
        coopy("stop", str(cfg), "--stop-running", cwd=cfg.parent, timeout=60)
    wait_no_processes(str(tmp_path), "no process of the test left")


def _finished(cfg: Path, runs: int) -> bool:
    state = status(cfg)
    return len(state["runs"]) == runs and all(r["state"] in ("done", "failed") for r in state["runs"])


def test_coopy_add_cannot_escape_with_a_name_and_matrix_values_become_safe_names(
    tmp_path: Path, detached: list[Path], report: dict[str, Any]
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    cfg = write_config(
        project,
        f"""
        [pipeline]
        poll_interval = 0.5
        [tasks.matrix]
        v = {json.dumps(MATRIX_VALUES)}
        [[stages]]
        name = "echo"
        command = ["echo", "{{v}}"]
        workers = 4
        """,
    )
    detached.append(cfg)
    out = coopy("run", "--detach", str(cfg), cwd=project, timeout=60)
    assert out.returncode == 0, out.stderr
    wait_for(lambda: _finished(cfg, len(MATRIX_VALUES)), "the matrix to run", 60)

    refused = 0
    for name in ("../../etc/x", "../x", "/tmp/x", "a/b", ".."):
        out = coopy("add", str(cfg), "v=1", "--name", name, cwd=project, timeout=60)
        assert out.returncode == 2, f"--name {name!r}: exit {out.returncode}: {out.stdout} {out.stderr}"
        assert out.stderr.count("\n") == 1 and "not a valid task name" in out.stderr, out.stderr
        refused += 1
    out = coopy("add", str(cfg), "../k=1", cwd=project, timeout=60)
    assert out.returncode == 2 and "KEY=VALUE" in out.stderr, out.stderr
    refused += 1
    out = coopy("add", str(cfg), "v=../../etc/shadow", cwd=project, timeout=60)  # a value: made safe
    assert out.returncode == 0, out.stderr
    added = out.stdout.split()[-1]
    wait_for(lambda: _finished(cfg, len(MATRIX_VALUES) + 1), "the added run", 60)

    state = status(cfg)
    log_dir = (project / ".coopy" / "logs").resolve()
    logs = {}
    for r in state["runs"]:
        assert r["state"] == "done", r
        assert re.match(SAFE_NAME, r["task"]) and "/" not in r["task"], r["task"]
        log = Path(r["log"]).resolve()
        assert log.is_relative_to(log_dir / "echo"), f"log outside its folder: {log}"
        logs[r["task"]] = log.read_text()
    assert logs[added] == "../../etc/shadow\n", "the value itself arrives unchanged"
    assert sorted(logs.values()) == sorted(f"{v}\n" for v in [*MATRIX_VALUES, "../../etc/shadow"])
    mine = ("proj", "proj/coopy.toml")
    outside = sorted(p for p in _tree(tmp_path) if not p.startswith("proj/.coopy") and p not in mine)
    assert outside == [], f"written outside the state dir: {outside}"
    report.update({"names refused": refused, "matrix values made safe": len(MATRIX_VALUES) + 1, "written outside": 0})


@pytest.mark.parametrize("umask", [0o027, 0o077], ids=["umask-027", "umask-077"])
def test_files_follow_the_umask_and_the_socket_is_private(tmp_path: Path, umask: int, report: dict[str, Any]) -> None:
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.5
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "s"
        command = ["sh", "-c", "sleep 1; echo done > out-$0", "{task}"]
        workers = 3
        [[stages]]
        name = "t"
        command = ["true"]
        """,
    )
    proc = subprocess.Popen(
        [PY, "-m", "coopy_core.cli.main", "run", str(cfg)],
        cwd=tmp_path,
        umask=umask,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    state_dir = tmp_path / ".coopy"
    sock = state_dir / "engine.sock"
    try:
        wait_for(sock.exists, "the control socket", 30)
        st = sock.lstat()
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        assert st.st_uid == os.getuid()
        folder = stat.S_IMODE(state_dir.stat().st_mode)
        assert not folder & 0o022, f"the socket's folder is writable by others: {oct(folder)}"
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    modes = _modes(state_dir)
    for name in ("state.sqlite", "engine.lock", "logs/s/x=1.1.log", "logs/t/x=3.1.log", "status/s/x=2.1.status"):
        assert name in modes, f"{name} not written: {sorted(modes)}"
    wrong = {}
    for name, mode in modes.items():
        want = dir_mode if (state_dir / name).is_dir() else file_mode
        if mode != want:
            wrong[name] = (oct(mode), oct(want))
    for name in ("out-x=1",):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        if mode != file_mode:
            wrong[name] = (oct(mode), oct(file_mode))
    assert not wrong, f"modes not from the umask {oct(umask)} (got, wanted): {wrong}"
    report.update({"umask": f"{umask:03o}", "files checked": len(modes) + 1, "socket": "0600"})


def test_background_engine_socket_is_0600_even_in_a_private_tmp_folder(
    tmp_path: Path, detached: list[Path], report: dict[str, Any]
) -> None:
    """A state dir too long for a socket path: the socket goes to /tmp/coopy-<uid>/, which must be the
    user's own and 0700, even if it was left world-writable."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    cfg = write_config(
        deep,
        """
        [tasks.matrix]
        x = [1]
        [[stages]]
        name = "s"
        command = ["true"]
        """,
    )
    detached.append(cfg)
    private = Path(f"/tmp/coopy-{os.getuid()}")
    private.mkdir(mode=0o700, exist_ok=True)
    old_mode = stat.S_IMODE(private.stat().st_mode)
    private.chmod(0o777)  # as another user could have left it (or a careless umask)
    try:
        out = subprocess.run(
            [PY, "-m", "coopy_core.cli.main", "run", "--detach", str(cfg)],
            cwd=deep,
            umask=0o002,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert status(cfg)["engine_pid"], "the engine answers on its socket"
        sock = socket_path((deep / ".coopy").resolve())
        assert sock.parent == private, sock
        st = sock.lstat()
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        pst = private.lstat()
        assert stat.S_ISDIR(pst.st_mode) and pst.st_uid == os.getuid()
        assert stat.S_IMODE(pst.st_mode) == 0o700, f"{private} is {oct(stat.S_IMODE(pst.st_mode))}, not 0700"
    finally:
        private.chmod(min(old_mode, 0o700) if old_mode != 0o777 else 0o700)
    report.update({"socket": "0600", "socket folder": "0700"})
