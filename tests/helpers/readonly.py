"""A folder that cannot be written, for real: a read-only bind mount where we may mount (root, as in CI), else a
`chmod -R a-w` copy (which stops every user but root)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _mount_read_only(source: Path, target: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    target.mkdir(parents=True)
    bind = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    if bind.returncode != 0:
        return False
    ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True)
    if ro.returncode != 0:
        subprocess.run(["umount", str(target)], capture_output=True)
        return False
    return True


@contextmanager
def read_only_copy(source: Path, target: Path) -> Iterator[Path]:
    """`source` seen at `target` where nothing can be written (nor created, nor deleted)."""
    if _mount_read_only(source, target):
        try:
            yield target
        finally:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)
        return
    shutil.copytree(source, target, symlinks=True)
    for path in [target, *target.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield target
    finally:
        for path in [target, *target.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)


def writable(path: Path) -> bool:
    """Whether anything can be created in `path` (root ignores modes, not a read-only mount)."""
    probe = path / ".coopy-write-probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True
