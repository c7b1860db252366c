"""Where a pipeline's engine listens: its control socket's path (the server binds it, clients connect to it)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SOCKET_NAME = "engine.sock"
MAX_SUN_PATH = 100  # Linux allows 108 bytes, minus a margin


def socket_path(state_dir: Path) -> Path:
    """`state_dir/engine.sock`, or a short private path when that would be too long for a socket."""
    path = state_dir / SOCKET_NAME
    if len(os.fsencode(path)) <= MAX_SUN_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(state_dir)).hexdigest()[:16]
    return Path(f"/tmp/coopy-{os.getuid()}") / f"{digest}.sock"
