"""A group run's `COOPY_MEMBERS` document says how many of its members it runs over: `members` are the usable
ones (with `allow_failed`, those whose runs passed), `total` is every member of the group and `left_out` the
rest, so `len(members)` of `total` is the log's "2 of 3 members" (README: Stages as a graph)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config

# The group run copies the document COOPY_MEMBERS names to out/<group>.json.
COPY_MEMBERS = """
import os, pathlib, shutil, sys
pathlib.Path("out").mkdir(exist_ok=True)
shutil.copy(os.environ["COOPY_MEMBERS"], f"out/{sys.argv[1]}.json")
"""


def test_members_total_counts_every_member_and_members_only_the_usable_ones(tmp_path: Path) -> None:
    (tmp_path / "copy_members.py").write_text(COPY_MEMBERS)
    cfg = write_config(
        tmp_path,
        """
        [tasks.matrix]
        d = ["a", "b"]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        workers = 2
        command = ["sh", "-c", '[ "$0" != a2 ]', "{d}{x}"]
        [[stages]]
        name = "summary"
        over = ["d"]
        allow_failed = true
        command = ["python3", "copy_members.py", "{task}"]
        """,
    )
    result = coopy("run", str(cfg), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # work/d=a,x=2 failed for good
    summaries = {r["task"]: r["state"] for r in status(cfg)["runs"] if r["stage"] == "summary"}
    assert summaries == {"d=a": "done", "d=b": "done"}

    partial = json.loads((tmp_path / "out" / "d=a.json").read_text())
    assert [m["task"] for m in partial["members"]] == ["d=a,x=1", "d=a,x=3"]
    assert partial["left_out"] == ["d=a,x=2"]
    assert partial["total"] == 3, f"total counts every member of the group, not only the usable ones: {partial}"
    assert len(partial["members"]) + len(partial["left_out"]) == partial["total"]

    whole = json.loads((tmp_path / "out" / "d=b.json").read_text())
    assert [m["task"] for m in whole["members"]] == ["d=b,x=1", "d=b,x=2", "d=b,x=3"]
    assert (whole["total"], whole["left_out"]) == (3, [])
