"""The real `coopy` command, as a person runs it (the installed console script when there is one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def coopy_argv() -> list[str]:
    script = Path(sys.executable).with_name("coopy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coopy_core.cli.main"]


def coopy(*args: str, cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*coopy_argv(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def coopy_popen(*args: str, cwd: Path, output: Path) -> subprocess.Popen[bytes]:
    with open(output, "ab") as out:
        return subprocess.Popen(
            [*coopy_argv(), *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def status(cfg: Path, timeout: float = 60.0) -> dict[str, Any]:
    """`coopy status <cfg> --json`, run in the config's folder; it must succeed."""
    out = coopy("status", str(cfg), "--json", cwd=cfg.parent, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
