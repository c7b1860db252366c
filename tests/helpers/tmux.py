"""The real apps in a detached tmux session (120x40): start, send keys, read the screen, find the app, kill."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path


def tui_command() -> str:
    script = Path(sys.executable).parent / "coopy-tui"
    return str(script) if script.exists() else f"{sys.executable} -m coopy_tui"


class Tmux:
    """One tmux session named `<prefix>-<random>` in `cwd`.

    `screen()` of a session that is gone (or not there yet) raises, unless `gone_ok`: then it is "".
    """

    def __init__(self, cwd: Path, prefix: str = "coopy-test", gone_ok: bool = False) -> None:
        self.cwd = cwd
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.gone_ok = gone_ok

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=30).stdout

    def start(self, command: str) -> None:
        """Run `command` in the session; when it exits the pane shows `EXITED <status>` (and stays)."""
        self.run(
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            self.name,
            "-c",
            str(self.cwd),
            command + "; echo EXITED $?; sleep 600",
        )

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        try:
            return self.run("capture-pane", "-p", "-t", self.name)
        except subprocess.CalledProcessError:
            if self.gone_ok:
                return ""
            raise

    def screen_with_colours(self) -> str:
        """The screen with its SGR escape sequences (colours, bold, reverse), as `capture-pane -e` gives it."""
        return self.run("capture-pane", "-p", "-e", "-t", self.name)

    def screen_if(self, condition: Callable[[str], bool]) -> str:
        """The screen if `condition` holds for it, else ""."""
        text = self.screen()
        return text if condition(text) else ""

    def app_pid(self) -> int | None:
        """The app's process: the child of the pane's shell (its command line mentions coopy)."""
        shell = int(self.run("list-panes", "-t", self.name, "-F", "#{pane_pid}").split()[0])
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
                cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == shell and b"coopy" in cmdline:
                return int(entry.name)
        return None

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True, timeout=30)


def alive(pid: int | None) -> bool:
    """A live process (a zombie nobody reaped yet is gone for our purposes)."""
    if not pid:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
