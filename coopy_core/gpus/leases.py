"""Machine-wide GPU leases: two CooPy pipelines, of one user or of two, never overcommit a GPU between them.

Each run's claim on a GPU is a small file in one folder the machine shares (`COOPY_GPU_LEASES`, default
`/tmp/coopy-gpu-leases`), written when the run is given the GPU (before its process allocates anything) and
removed at its end. No lock: a claim is written first, then every claim is read; when another engine's claim on
the same GPU was written at the same moment or earlier and both do not fit, the later one (both, on a tie)
withdraws and waits, so two engines that decide at once never both keep a GPU that fits one.

The folder is shared by users, so it is made world-writable with the sticky bit (no one removes another's
file); it is refused when it is a symlink or writable by others without the sticky bit. Lease files are opened
with O_NOFOLLOW, must be regular files under 4 KiB owned by the uid they name, and are trusted for no more than
they can prove: an engine that is not alive (pid and start time) holds nothing; a dead engine's leases of this
user are removed, another user's are read and never removed. A file that does not parse is refused in one line
(once) and counts for nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT = "/tmp/coopy-gpu-leases"
MAX_SIZE = 4096


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22); None: no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(text.rpartition(")")[2].split()[19])
    except (IndexError, ValueError):
        return None


def safe(gpu: str) -> str:
    """A GPU's UUID as it may stand in a file name (a MIG device's has slashes)."""
    return "".join(c if c.isalnum() or c == "-" else "_" for c in gpu)


@dataclass(frozen=True, slots=True)
class Lease:
    """Another engine's claim: a GPU (its UUID) and MiB (None: the whole GPU), and when it was written."""

    gpu: str
    mem_mb: float | None
    written_ns: int
    name: str


class Leases:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(os.environ.get("COOPY_GPU_LEASES") or DEFAULT)
        self.pid = os.getpid()
        self.start = start_time(self.pid) or 0
        self.uid = os.getuid()
        self.mine: dict[tuple[object, str], Path] = {}  # (run key, GPU uuid) -> its lease file
        self.refused: set[str] = set()
        self.usable = self._prepare()

    def _prepare(self) -> bool:
        try:
            os.mkdir(self.folder, 0o700)
            os.chmod(self.folder, 0o1777)  # shared by the machine's users; the sticky bit: each keeps its own
        except FileExistsError:
            pass
        except OSError as exc:
            log.warning("GPU leases: cannot make %s (%s): no claims shared with other pipelines", self.folder, exc)
            return False
        try:
            st = os.lstat(self.folder)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode) or (st.st_mode & 0o002 and not st.st_mode & stat.S_ISVTX):
            log.warning("GPU leases: %s is not a directory with the sticky bit: refused", self.folder)
            return False
        return True

    # ------------------------------------------------------------------ this engine's claims
    def claim(self, key: object, gpu: str, mem_mb: float | None) -> Path | None:
        """Write this engine's claim of `mem_mb` (None: all) on `gpu` (its UUID, letters, digits and - kept)."""
        if not self.usable:
            return None
        gpu = safe(gpu)
        name = f"{gpu}.{self.uid}.{self.pid}.{self.start}.{uuid.uuid4().hex[:12]}.lease"
        path = self.folder / name
        body = json.dumps({"gpu": gpu, "mem_mb": mem_mb, "uid": self.uid, "pid": self.pid, "start": self.start})
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            log.warning("GPU leases: cannot write %s (%s)", path, exc)
            return None
        with os.fdopen(fd, "w") as f:
            f.write(body)
        self.mine[(key, gpu)] = path
        return path

    def drop(self, key: object) -> None:
        for mine in [m for m in self.mine if m[0] == key]:
            with contextlib.suppress(OSError):
                os.unlink(self.mine.pop(mine))

    def written_ns(self, path: Path) -> int:
        try:
            return os.stat(path, follow_symlinks=False).st_mtime_ns
        except OSError:
            return 0

    # ------------------------------------------------------------------ everyone else's
    def others(self) -> list[Lease]:
        """Live claims of other engines (a dead engine's of this user are removed on the way)."""
        if not self.usable:
            return []
        ours = {p.name for p in self.mine.values()}
        found = []
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        for name in names:
            if not name.endswith(".lease") or name in ours:
                continue
            lease = self._read(name)
            if lease is not None:
                found.append(lease)
        return found

    def _read(self, name: str) -> Lease | None:
        path = self.folder / name
        parts = name.split(".")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return self._refuse(name, "cannot be opened as a plain file (a symlink?)")
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SIZE:
                return self._refuse(name, "not a small plain file")
            data = json.loads(os.read(fd, MAX_SIZE))
        except (OSError, ValueError):
            return self._refuse(name, "not a lease (bad JSON)")
        finally:
            os.close(fd)
        try:
            gpu, mem, uid, pid, start = data["gpu"], data["mem_mb"], data["uid"], data["pid"], data["start"]
            ok = (
                isinstance(gpu, str)
                and (mem is None or (isinstance(mem, int | float) and 0 < mem < 1e9))
                and all(isinstance(v, int) and not isinstance(v, bool) for v in (uid, pid, start))
                and len(parts) == 6
                and parts[:4] == [gpu, str(uid), str(pid), str(start)]
                and st.st_uid == uid  # a lease speaks only for the user who wrote it
            )
        except (KeyError, TypeError):
            ok = False
        if not ok:
            return self._refuse(name, "its fields do not match its name and owner")
        if (pid, start) == (self.pid, self.start):
            return None  # ours, from before (a claim this engine dropped but could not unlink)
        if start_time(pid) != start:  # the engine that wrote it is gone: it holds nothing
            if uid == self.uid:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            return None
        return Lease(gpu, float(mem) if mem is not None else None, st.st_mtime_ns, name)

    def _refuse(self, name: str, why: str) -> Lease | None:
        if name not in self.refused:
            self.refused.add(name)
            log.warning("GPU leases: %s/%s refused: %s", self.folder, name, why)
        return None
