"""An attempt's files: its run id, its log, status and members files, and the removal of the outputs an
earlier or a failed attempt left (never a folder CooPy or the pipeline lives in)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from coopy_core.config import Config
from coopy_core.model import Run


class AttemptFiles:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._keep: set[Path] | None = None  # folders no output may remove (see clear_outputs)

    def run_id(self, run: Run) -> str:
        return f"{self.run_prefix(run)}{run.attempt}"

    def run_prefix(self, run: Run) -> str:
        """The start of the run id of every attempt of `run` (names hold no `/`: it ends each part)."""
        return f"{self.config.state_dir}:{run.stage}/{run.name}/"

    def status_path(self, run: Run) -> Path:
        return self.config.state_dir / "status" / run.stage / f"{run.name}.{run.attempt}.status"

    def log_path(self, run: Run) -> Path:
        return self.config.log_dir / run.stage / f"{run.name}.{run.attempt}.log"

    def members_path(self, run: Run) -> Path:
        return self.config.state_dir / "members" / run.stage / f"{run.name}.{run.attempt}.json"

    def _kept(self) -> set[Path]:
        if self._keep is None:
            c = self.config
            self._keep = {c.base_dir.resolve(), c.state_dir.resolve(), c.log_dir.resolve()}
        return self._keep

    def clear_outputs(self, outputs: Sequence[Path]) -> str:
        """Remove these outputs of a run (the engine says which are its own): before it starts and when it
        fails, so no file a failed or an earlier attempt left is ever taken for this one's result. A path that
        names a folder CooPy or the pipeline lives in (or one above it) is never removed. Returns a problem,
        or ""."""
        if not outputs:
            return ""
        keep = self._kept()
        for path in outputs:
            try:
                real = path.resolve()
                if any(real == k or real in k.parents for k in keep) or real == Path(real.anchor):
                    continue  # an output that names a folder CooPy or the pipeline lives in: never removed
                if real.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.exists() or path.is_symlink():
                    path.unlink()
            except OSError as exc:
                return f"cannot remove its old output {path}: {exc.strerror}"
        return ""


def disk_full_note(log_file: Path) -> str:
    """A failure on a full disk says so: the log itself may have been cut short by it."""
    try:
        st = os.statvfs(log_file.parent)
    except OSError:
        return ""
    return f"; the log's disk is full ({log_file.parent})" if st.f_bavail * st.f_frsize < 4096 else ""
