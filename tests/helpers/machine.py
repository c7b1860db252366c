"""The machine running short, for real: a small disk (tmpfs) filled to the last byte, this process's descriptors
used up to its limit."""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(path: Path, size: str = "1m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)])


def fill(disk: Path) -> Path:
    """Fill `disk` to the last byte; returns the filler (remove it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size) == size:
                    pass
    finally:
        os.close(fd)
    probe = os.open(disk / "probe", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as exc:
            os.write(probe, b"x" * 4096)
        assert exc.value.errno == errno.ENOSPC
    finally:
        os.close(probe)
        (disk / "probe").unlink()
    return filler


@contextlib.contextmanager
def descriptors_exhausted() -> Iterator[list[int]]:
    """This process (the in-process engine's) at its descriptor limit, for real: open /dev/null until EMFILE.
    It stays there until the block ends: garbage that holds descriptors (an earlier test's SQLite connection
    never closed sits in a reference cycle) is collected first, and the collector is off meanwhile, so no
    descriptor comes free behind the test's back (one collection in the middle let a refused start through)."""
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    used = max((int(fd) for fd in os.listdir("/proc/self/fd")), default=2) + 1  # the highest, not the count
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(used + 64, hard), hard))
    held: list[int] = []
    try:
        with contextlib.suppress(OSError):
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        yield held
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if collecting:
            gc.enable()


@contextlib.contextmanager
def memory_limited(limit: int) -> Iterator[list[str]]:
    """A real memory cgroup limited to `limit` bytes (v2, or v1's memory controller); yields the argv prefix
    that runs a command inside it. Skips where cgroups cannot be made (not root, no controller)."""
    name = f"coopy-test-{os.getpid()}"
    candidates = [
        (Path("/sys/fs/cgroup") / name, "memory.max"),
        (Path("/sys/fs/cgroup/memory") / name, "memory.limit_in_bytes"),
    ]
    for folder, limit_file in candidates:
        if not folder.parent.is_dir() or not (folder.parent / "cgroup.procs").exists():
            continue
        try:
            folder.mkdir()
        except OSError:
            continue
        try:
            (folder / limit_file).write_text(str(limit))
        except OSError:
            folder.rmdir()
            continue
        procs = folder / "cgroup.procs"
        try:
            yield ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "in-cgroup"]
        finally:
            with contextlib.suppress(OSError):
                folder.rmdir()
        return
    pytest.skip("no memory cgroup can be made here")
