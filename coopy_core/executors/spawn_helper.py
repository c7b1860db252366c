"""The spawn helper (`[pipeline] local_start = "helper"`): one long-lived process per engine that starts local runs
without a shell wrapper and records how each ended.

Run as a plain script (`python -I -S spawn_helper.py <status dir> <engine pid>`, the standard library only: it starts in
~15 ms and holds ~10 MB). Its stdin is a Unix socket to the engine, one JSON object a line each way:

- engine -> helper, a start: `{"run": run id, "argv": [...], "cwd": dir, "env": {extra vars}, "log": file}`;
- helper -> engine, the start's answer: `{"run": id, "pid": n, "start": ticks}` or `{"run": id, "error": text,
  "errno": n}`; the engine goes on meanwhile (its start does not wait for the spawn);
- helper -> engine, whenever a run it started ends: `{"run": id, "end": pid, "code": n}` (n < 0: killed by
  signal -n).

A request that reaches the helper after its engine died is refused, not started (the helper's parent changed):
a new engine that did not find the run started starts it itself, never beside a late copy.

Why a helper: the per-run wrapper (`/bin/sh -c ...`) costs an exec per run, a status file created per run, and
`posix_spawn` in the engine holds its GIL while the child execs. Here the command itself is exec'd in its own
session (so process groups, run ids in the environment and cancel work as before), and its exit status is one
line of `helper-<pid>.exits`: `["<run id>", code, unix time]`, written with pwrite into space allocated ahead
(1 MiB at a time), so a disk that fills up still takes the statuses of the runs already started.

The helper outlives the engine: when the engine's socket closes (it stopped or was killed) the helper keeps
reaping its runs and recording them, and exits once the last has ended. A new engine reads the records of runs
it adopts from the file. A helper killed alone: its runs go on (re-parented to init), and their exit statuses
are lost, as they are when a wrapper is killed alone; the engine starts a new helper for the next runs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import selectors
import signal
import socket
import sys
import time
import traceback
from typing import Any

CHUNK = 1 << 20  # the exits file's space is allocated this much at a time
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores these; a run gets them back at their default
# ... and the ones this helper ignores itself: an ignored signal stays ignored across exec (a shell cannot trap it)
RUN_DEFAULTS = (*DEFAULT_SIGNALS, signal.SIGINT, signal.SIGHUP, signal.SIGTERM)
MACHINE_ERRNOS = (errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE)  # the machine said no: no shell either
SHELL_START = 'cd "$1" || exit 126; shift; exec "$@"'  # only when the command cannot be exec'd directly


class Exits:
    """The append-only record of exit statuses, in space allocated ahead."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # never another's file
        self.offset = 0
        self.room = 0
        self._grow()
        # every record then starts after a newline: a reader looks for b'\n["<run id>",'
        self.pending = b"\n"  # what a full disk refused so far, written before the next record

    def _write_all(self, data: bytes) -> None:
        data, self.pending = self.pending + data, b""
        try:
            self._write(data)
        except OSError:
            self.pending = data
            raise

    def _grow(self) -> None:
        try:
            os.posix_fallocate(self.fd, self.room, CHUNK)
            self.room += CHUNK
        except OSError:
            pass  # a full disk: what is allocated still takes records

    def _write(self, data: bytes) -> None:
        if self.offset + len(data) > self.room - 4096:
            self._grow()
        os.pwrite(self.fd, data, self.offset)
        self.offset += len(data)

    def close(self) -> None:
        """The space allocated ahead is given back: the file keeps its records only."""
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, self.offset)
        os.close(self.fd)

    def record(self, run_id: str, code: int) -> None:
        try:
            self._write_all(json.dumps([run_id, code, round(time.time(), 6)]).encode() + b"\n")
        except OSError as exc:
            print(f"coopy spawn helper: cannot record {run_id} ended {code}: {exc}", file=sys.stderr, flush=True)


def _which(name: str, env: dict[str, str]) -> str | None:
    """The file a shell would exec for `name` (a name with a slash is taken as it is)."""
    if "/" in name:
        return name
    for folder in env.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(folder or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


class Helper:
    def __init__(self, status_dir: str, engine: int) -> None:
        self.sock: socket.socket | None = socket.socket(fileno=0)
        self.sock.setblocking(True)
        self.buffer = b""
        self.base_env = dict(os.environ)
        self.engine = engine  # the engine that started this helper; once it is gone, nothing more starts
        self.children: dict[int, str] = {}  # pid -> run id
        self.exits = Exits(os.path.join(status_dir, f"helper-{os.getpid()}-{time.time_ns()}.exits"))
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # the engine's terminal and its stop are not ours: runs outlive them
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sock, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)

    def send(self, message: dict[str, Any]) -> None:
        if self.sock is None:
            return
        try:
            self.sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            self.disconnect()

    def disconnect(self) -> None:
        if self.sock is not None:
            self.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = self._start(request)
        answer["run"] = request["run"]
        return answer

    def _engine_gone(self) -> bool:
        """The engine that asked died (this helper's parent changed) or closed its end: a new engine may be looking
        for a run asked for before, and must not find it started behind its back (it starts the run itself)."""
        if os.getppid() != self.engine or self.sock is None:
            return True
        hung_up = select.poll()
        hung_up.register(self.sock, select.POLLRDHUP)
        return any(events & (select.POLLRDHUP | select.POLLHUP) for _fd, events in hung_up.poll(0))

    def _start(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._engine_gone():
            return {"error": "the engine has gone", "errno": 0}
        argv: list[str] = request["argv"]
        env = dict(self.base_env)
        env.update(request["env"])
        log_path: str = request["log"]
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        try:
            try:
                log = os.open(log_path, flags, 0o666)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(log_path), exist_ok=True)
                log = os.open(log_path, flags, 0o666)
        except OSError as exc:
            return {"error": f"cannot open log file {log_path}: {exc.strerror}", "errno": exc.errno}
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log, 1),
            (os.POSIX_SPAWN_DUP2, log, 2),
        ]
        options: dict[str, Any] = {"setsid": True, "setsigmask": (), "setsigdef": RUN_DEFAULTS}
        try:
            try:
                os.chdir(request["cwd"])  # this process is one thread: the child inherits the folder
                path = _which(argv[0], env)
                if path is None:
                    raise FileNotFoundError(argv[0])
                pid = os.posix_spawn(path, argv, env, file_actions=actions, **options)
            except OSError as exc:
                if exc.errno in MACHINE_ERRNOS:
                    raise
                # not found, not executable, a script without `#!`: a shell says so in the log, with the shell's
                # exit status (127, 126), or runs the script, as the wrapper did
                shell = ["/bin/sh", "-c", SHELL_START, "coopy-run", request["cwd"], *argv]
                pid = os.posix_spawn("/bin/sh", shell, env, file_actions=actions, **options)
        except OSError as exc:
            return {"error": f"cannot start {argv[0]!r} in {request['cwd']}: {exc.strerror}", "errno": exc.errno}
        finally:
            os.close(log)
            os.chdir("/")
        self.children[pid] = request["run"]
        return {"pid": pid, "start": _start_time(pid)}

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            run_id = self.children.pop(pid, None)
            if run_id is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            self.exits.record(run_id, code)  # first the record, then the news: an engine that hears it can read it
            self.send({"run": run_id, "end": pid, "code": code})

    def read(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            self.disconnect()
            return
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                answer = self.start(json.loads(line))
            except Exception as exc:  # noqa: BLE001 - a bad request is answered, never the helper's end
                answer = {"error": f"spawn helper: {type(exc).__name__}: {exc}", "errno": 0}
            self.send(answer)

    def serve(self) -> None:
        while self.sock is not None or self.children:
            for key, _events in self.selector.select(timeout=1.0):
                if key.fileobj is self.sock:
                    self.read()
                else:
                    try:
                        while os.read(self.wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
            self.reap()
        self.exits.close()


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (as the engine reads it), zombie or not."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    return int(data[data.rfind(b")") + 2 :].split()[19])


def main() -> None:
    try:
        Helper(sys.argv[1], int(sys.argv[2])).serve()
    except Exception:  # noqa: BLE001 - said in the helper's log; the engine sees the socket close
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
