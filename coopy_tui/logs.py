"""Reading run logs without ever blocking the UI: two small background threads.

`LogFollower` follows one file (the selected run's log) like `tail -f`, bounded
to the last `max_lines` lines; `LastLines` keeps the last line of a few logs
(the running runs) for the task lists. Both only read files and fill buffers
under a lock; the app's repaint timer drains the buffers. No thread ever calls
into Textual, so a slow disk (NFS on a cluster) or a log that grows by
megabytes a second costs a few buffered lines, never a frozen screen.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import threading
from collections import deque
from dataclasses import dataclass, field

TAIL_BYTES = 256 * 1024  # look back this far for the first screenful
MAX_READ = 1024 * 1024  # more than this behind: skip ahead (the tail is bounded)
LAST_LINE_BYTES = 8 * 1024
MAX_LINE_CHARS = 2000
MAX_PARTIAL = 64 * 1024  # a "line" this long without a newline is shown as a line


def _clean(line: str) -> str:
    """What a terminal would show of a line: the text after its last carriage return."""
    if "\r" in line:
        parts = [p for p in line.split("\r") if p]
        line = parts[-1] if parts else ""
    return line[:MAX_LINE_CHARS]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def read_tail(path: str, max_lines: int, max_bytes: int = TAIL_BYTES) -> tuple[list[str], int, str]:
    """The last `max_lines` complete lines of `path`, the offset read up to, and a trailing partial line."""
    lines, offset, partial, _cut = read_tail_cut(path, max_lines, max_bytes)
    return lines, offset, partial


def read_tail_cut(path: str, max_lines: int, max_bytes: int = TAIL_BYTES) -> tuple[list[str], int, str, bool]:
    """`read_tail`, and whether lines before the first one returned were left out (the log view then numbers
    its lines `of the last N`, not as the file's)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        start = max(0, size - max_bytes)
        f.seek(start)
        data = f.read(size - start)
    text = _decode(data)
    lines = text.split("\n")
    if start > 0 and lines:
        lines = lines[1:]  # the first one is cut
    partial = lines.pop() if lines else ""
    cut = start > 0 or len(lines) > max_lines
    return [_clean(line) for line in lines[-max_lines:]], start + len(data), partial, cut


def last_line(path: str, max_bytes: int = LAST_LINE_BYTES) -> str:
    """The last non-empty line of `path` ("" if none or unreadable)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - max_bytes))
            data = f.read(max_bytes)
    except OSError:
        return ""
    for line in reversed(_decode(data).split("\n")):
        line = _clean(line).strip()
        if line:
            return line
    return ""


@dataclass
class TailUpdate:
    """New lines for the log pane; `reset` means replace what is shown.

    `partial` is the unfinished last line (a progress bar without its newline
    yet); it replaces the partial line shown before. `cut`, with `reset`: the
    lines do not start at the file's first line (only its tail is shown).
    """

    path: str | None
    reset: bool
    lines: list[str] = field(default_factory=list)
    partial: str = ""
    cut: bool = False


class _ReaderThread:
    """A daemon thread that reads files off the UI's loop; subclasses write `_run`."""

    thread_name = "coopy-reader"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None


class LogFollower(_ReaderThread):
    """Follow one log file from a daemon thread; `drain()` hands new lines to the UI."""

    thread_name = "coopy-log-follower"

    def __init__(self, max_lines: int = 1000, interval: float = 0.2) -> None:
        self.max_lines = max_lines
        self.interval = interval
        super().__init__()
        self._target: str | None = None
        self._generation = 0
        # reader-side state (only touched by the reader thread)
        self._read_generation = -1
        self._offset = 0
        self._partial = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._inode: tuple[int, int] | None = None
        # hand-over buffer (under the lock)
        self._pending: deque[str] = deque(maxlen=max_lines)
        self._pending_partial = ""
        self._changed = False
        self._reset = False
        self._cut = False  # the reset's lines start after the file's first line
        self._pending_path: str | None = None
        self._published_generation = -1
        self._busy = False

    # ------------------------------------------------------------------ UI side
    def follow(self, path: str | None) -> None:
        """Switch to `path` (None: nothing); the next drain resets the pane."""
        with self._lock:
            if path == self._target:
                return
            self._target = path
            self._generation += 1
        self._wake.set()

    @property
    def target(self) -> str | None:
        return self._target

    def drain(self) -> TailUpdate | None:
        """New lines since the last drain, or None when nothing changed."""
        with self._lock:
            if not self._changed:
                return None
            update = TailUpdate(
                self._pending_path, self._reset, list(self._pending), self._pending_partial, self._reset and self._cut
            )
            self._pending.clear()
            self._changed = False
            self._reset = False
            self._cut = False
            return update

    @property
    def settled(self) -> bool:
        """Caught up with the current target and everything handed over (tests wait for this)."""
        with self._lock:
            return self._published_generation == self._generation and not self._busy and not self._changed

    # ------------------------------------------------------------------ reader side
    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # a log we cannot read must not kill the reader
                self.poll_once()
            self._wake.wait(self.interval)
            self._wake.clear()

    def poll_once(self) -> None:
        """One read step: start a new target from its tail, or read what was appended."""
        with self._lock:
            target, generation = self._target, self._generation
            self._busy = True
        try:
            if generation != self._read_generation:
                self._open(target, generation)
            elif target is not None:
                self._read_more(target, generation)
        finally:
            with self._lock:
                self._busy = False

    def _publish(self, generation: int, lines: list[str], partial: str, reset: bool, cut: bool = False) -> None:
        with self._lock:
            if generation != self._generation:
                return  # the target moved on while we read
            self._published_generation = generation
            if reset:
                self._pending.clear()
                self._reset = True
                self._cut = cut
                self._pending_path = self._target
            elif len(self._pending) + len(lines) > self.max_lines:
                self._reset = True  # lines fell out of the buffer: the pane must start over
                self._cut = True
            self._pending.extend(lines)
            self._pending_partial = partial
            self._changed = True

    def _open(self, target: str | None, generation: int) -> None:
        self._read_generation = generation
        self._offset = 0
        self._partial = ""
        self._decoder.reset()
        self._inode = None
        if target is None:
            self._publish(generation, [], "", reset=True)
            return
        try:
            st = os.stat(target)
            lines, offset, partial, cut = read_tail_cut(target, self.max_lines)
        except FileNotFoundError:
            self._publish(generation, [], "", reset=True)  # not written yet: keep looking
            return
        except OSError as exc:
            self._publish(generation, [f"(cannot read the log: {exc.strerror})"], "", reset=True)
            return
        self._inode = (st.st_dev, st.st_ino)
        self._offset = offset
        self._partial = partial
        self._publish(generation, lines, _clean(partial), reset=True, cut=cut)

    def _read_more(self, target: str, generation: int) -> None:
        try:
            st = os.stat(target)
        except OSError:
            return
        if self._inode is None or (st.st_dev, st.st_ino) != self._inode or st.st_size < self._offset:
            self._open(target, generation)  # appeared, replaced or truncated: start over
            return
        if st.st_size == self._offset:
            return
        if st.st_size - self._offset > MAX_READ:
            self._open(target, generation)  # far behind: jump to the tail (the pane is bounded)
            return
        with open(target, "rb") as f:
            f.seek(self._offset)
            data = f.read(MAX_READ)
        self._offset += len(data)
        parts = (self._partial + self._decoder.decode(data)).split("\n")
        self._partial = parts.pop()
        if len(self._partial) > MAX_PARTIAL:
            parts.append(self._partial)
            self._partial = ""
        self._publish(generation, [_clean(p) for p in parts], _clean(self._partial), reset=False)


class LastLines(_ReaderThread):
    """Last line of each watched log, refreshed about once a second off the UI thread."""

    thread_name = "coopy-last-lines"

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        super().__init__()
        self._watch: dict[tuple[str, str], str] = {}  # key -> path, re-read while it grows
        self._once: dict[tuple[str, str], str] = {}  # key -> path, read one time
        self._seen: dict[tuple[str, str], tuple[str, int, int]] = {}  # key -> (path, size, mtime_ns)
        self._results: dict[tuple[str, str], str] = {}
        self._busy = False

    def watch(self, key: tuple[str, str], path: str) -> None:
        with self._lock:
            self._watch[key] = path
        self._wake.set()

    def unwatch(self, key: tuple[str, str], read_once: bool = True) -> None:
        """Stop following `key` (its run ended); read it one last time if asked."""
        with self._lock:
            path = self._watch.pop(key, None)
            if read_once and path:
                self._once[key] = path
                self._seen.pop(key, None)
        self._wake.set()

    def read_once(self, key: tuple[str, str], path: str) -> None:
        with self._lock:
            self._once[key] = path
        self._wake.set()

    def drain(self) -> dict[tuple[str, str], str]:
        with self._lock:
            results, self._results = self._results, {}
            return results

    @property
    def settled(self) -> bool:
        with self._lock:
            return (
                not self._once
                and not self._results
                and not self._busy
                and all(key in self._seen and self._seen[key][0] == path for key, path in self._watch.items())
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.poll_once()
            self._wake.wait(self.interval)
            self._wake.clear()

    def poll_once(self) -> None:
        with self._lock:
            watch = dict(self._watch)
            once, self._once = self._once, {}
            self._busy = True
        try:
            found: dict[tuple[str, str], str] = {}
            seen: dict[tuple[str, str], tuple[str, int, int]] = {}
            for key, path in once.items():
                found[key] = last_line(path)
            for key, path in watch.items():
                try:
                    st = os.stat(path)
                    stamp = (path, st.st_size, st.st_mtime_ns)
                except OSError:
                    stamp = (path, -1, 0)
                seen[key] = stamp
                if self._seen.get(key) != stamp:
                    found[key] = last_line(path) if stamp[1] >= 0 else ""
            with self._lock:
                self._seen.update(seen)
                for key in list(self._seen):
                    if key not in self._watch and key not in seen:
                        del self._seen[key]
                self._results.update(found)
        finally:
            with self._lock:
                self._busy = False
