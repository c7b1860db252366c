"""An output that names the config's folder, the state dir, the log dir or a folder above them is never removed
(README: Partial outputs are never trusted), not before the run starts and not when it fails: with
`done_when = [".."]` and a failed run, the project's parent folder and everything in it stay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config


@pytest.mark.parametrize(
    "output",
    ["..", "sub/../..", ".", "../project", ".coopy", ".coopy/logs"],
    ids=["parent", "parent-through-sub", "config-folder", "config-folder-by-name", "state-dir", "log-dir"],
)
def test_an_output_naming_a_folder_at_or_above_the_project_is_never_removed(
    tmp_path: Path, output: str, report: dict[str, Any]
) -> None:
    outer = tmp_path / "outer"
    project = outer / "project"
    project.mkdir(parents=True)
    (outer / "sibling.txt").write_text("a file beside the project\n")
    (outer / "other").mkdir()
    (outer / "other" / "data.txt").write_text("another project's data\n")
    (project / "sub").mkdir()
    (project / "notes.txt").write_text("the project's own file\n")
    cfg = write_config(
        project,
        f"""
        [tasks.named]
        t = {{ v = 1 }}
        [[stages]]
        name = "fail"
        retries = 0
        command = ["sh", "-c", "echo ran >> marks.txt; exit 3"]
        done_when = ["{output}"]
        """,
    )
    result = coopy("run", str(cfg), cwd=project)
    assert (outer / "sibling.txt").exists(), f"{outer} was emptied: {sorted(p.name for p in outer.iterdir())}"
    assert (outer / "other" / "data.txt").exists(), "a folder above it was removed"
    assert (project / "notes.txt").exists() and cfg.exists() and (project / "sub").is_dir()
    assert result.returncode == 1, result.stdout + result.stderr
    assert (project / "marks.txt").read_text() == "ran\n"
    run = next(r for r in status(cfg)["runs"] if r["stage"] == "fail")
    assert (run["state"], run["exit_code"]) == ("failed", 3)
    assert Path(run["log"]).exists(), "the state dir and its logs stay"
    report.update({"done_when": output, "runs": 1, "folders above kept": "yes"})
