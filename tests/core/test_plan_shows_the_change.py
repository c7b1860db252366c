"""`coopy plan` and `coopy why` show what changed, not both sides cut to the same prefix: the differing
element of the command (its index and both values), and of a long shell command the part around the
first difference — in the text and in `--json`. Through the real CLI, after a real run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

LONG = (
    "mkdir -p calls && echo data/genome.fa data/samples/A.bam data/samples/B.bam data/samples/C.bam"
    " | tr a-z A-Z > calls/all.vcf"
)


def config(tmp_path: Path, shell_command: str, args: str) -> Path:
    return write_config(
        tmp_path,
        f"""
        [tasks.named]
        t = {{ v = 1 }}
        [[stages]]
        name = "call"
        shell = true
        command = "{shell_command}"
        [[stages]]
        name = "train"
        command = ["sh", "-c", "echo $0 $@ > args.txt", {args}]
        """,
    )


def run_ok(cfg: Path) -> None:
    result = coopy("run", str(cfg), cwd=cfg.parent)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def plan(cfg: Path, *extra: str) -> str:
    result = coopy("plan", str(cfg), *extra, cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout


def why(cfg: Path, stage: str) -> str:
    result = coopy("why", str(cfg), stage, "t", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def reasons(cfg: Path) -> dict[str, str]:
    data: dict[str, Any] = json.loads(plan(cfg, "--json"))
    return {r["stage"]: r["why"] for runs in data["would_run"].values() for r in runs}


def test_a_long_shell_command_shows_the_part_that_changed(tmp_path: Path) -> None:
    cfg = config(tmp_path, LONG, '"--lr", "0.1"')
    run_ok(cfg)
    assert reasons(cfg) == {}
    cfg.write_text(cfg.read_text().replace("tr a-z A-Z", "tr A-Z a-z"))
    said = why(cfg, "call")
    index = 4 if shutil.which("bash") else 2  # bash -o pipefail -c COMMAND, or /bin/sh -c COMMAND
    assert said.startswith(f"call/t runs again: the command changed: argv[{index}]: ..."), said
    assert "tr a-z A-Z" in said and "tr A-Z a-z" in said, said
    assert "tr a-z A-Z" in plan(cfg) and "tr A-Z a-z" in plan(cfg)
    in_json = reasons(cfg)["call"]
    assert f"argv[{index}]" in in_json and "tr a-z A-Z" in in_json and "tr A-Z a-z" in in_json, in_json


def test_a_changed_or_added_argument_is_named_by_its_index(tmp_path: Path) -> None:
    cfg = config(tmp_path, "echo hi > hi.txt", '"--lr", "0.1"')
    run_ok(cfg)
    cfg.write_text(cfg.read_text().replace('"0.1"', '"0.01"'))
    assert why(cfg, "train") == 'train/t runs again: the command changed: argv[4]: "0.1" → "0.01"'
    assert reasons(cfg)["train"] == 'the command changed: argv[4]: "0.1" → "0.01"'
    cfg.write_text(cfg.read_text().replace('"0.01"', '"0.1", "--fast"'))
    assert why(cfg, "train") == 'train/t runs again: the command changed: argv[5] added: "--fast"'
    assert 'argv[5] added: \\"--fast\\"' in plan(cfg, "--json")
