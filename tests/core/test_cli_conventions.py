"""CLI conventions, through the real commands: `--version`, `python -m coopy_core`, a description on every
subcommand's --help and help on every argument, `coopy init DIR`, only the README's states printed,
rates and ETAs only where they mean something."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from coopy_core.cli.main import _parser
from coopy_core.cli.progress import stage_line
from coopy_core.model import RunState, StageView
from tests.helpers.cli import coopy
from tests.helpers.engine import make_and_use, write_config
from tests.helpers.tmux import tui_command

REPO = Path(__file__).resolve().parents[2]


def _python_m(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coopy_core", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_version(tmp_path: Path) -> None:
    expected = f"coopy {version('coopy')}\n"
    assert coopy("--version", cwd=tmp_path).stdout == expected
    assert _python_m("--version", cwd=tmp_path).stdout == expected
    tui = subprocess.run([*tui_command().split(), "--version"], capture_output=True, text=True, timeout=60)
    assert tui.returncode == 0 and tui.stdout == f"coopy-tui {version('coopy')}\n"


def test_python_m_coopy_core_is_coopy(tmp_path: Path) -> None:
    (tmp_path / "coopy.toml").write_text((REPO / "coopy.toml").read_text())
    for args in (["validate", "coopy.toml"], ["status", "coopy.toml", "--json"], ["init", "sub"], ["nope"]):
        a, b = coopy(*args, cwd=tmp_path), _python_m(*args, cwd=tmp_path)
        if args[0] == "init":
            assert a.returncode == 0 and b.returncode == 2 and "already exists" in b.stderr  # the same file
            continue
        assert (a.returncode, a.stdout) == (b.returncode, b.stdout), args
        assert (
            a.stderr.replace("usage: coopy", "usage: python -m coopy_core")
            == b.stderr.replace("python -m coopy_core:", "coopy:")
            or a.returncode == b.returncode == 2
        )
    help_a = coopy("--help", cwd=tmp_path).stdout
    help_b = _python_m("--help", cwd=tmp_path).stdout
    assert help_a.replace("usage: coopy", "") == help_b.replace("usage: python -m coopy_core", "")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_subcommand_and_argument_has_help() -> None:
    commands = _subcommands()
    assert {
        "run",
        "status",
        "validate",
        "init",
        "export",
        "stop",
        "pause",
        "resume",
        "workers",
        "bump",
        "top",
        "retry",
        "cancel",
        "retry-failed",
        "add",
        "pool",
    } <= set(commands)
    for name, sub in commands.items():
        assert sub.description and sub.description.endswith(".") and "\n" not in sub.description, name
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"coopy {name}: {action.dest} has no help"


def test_every_subcommands_help_page_opens_with_its_description(tmp_path: Path) -> None:
    for name, sub in _subcommands().items():
        result = coopy(name, "--help", cwd=tmp_path)
        assert result.returncode == 0, name
        paragraphs = result.stdout.split("\n\n")
        assert paragraphs[1].replace("\n", " ").strip() == sub.description, name
        assert "positional arguments:" in result.stdout or name == "init" or "options:" in result.stdout


def test_init_dir_writes_dir_coopy_toml(tmp_path: Path) -> None:
    (tmp_path / "existing").mkdir()
    result = coopy("init", "existing", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "existing" / "coopy.toml").is_file()
    assert coopy("validate", "existing/coopy.toml", cwd=tmp_path).returncode == 0
    made = coopy("init", "new/project", cwd=tmp_path)  # a missing folder is made
    assert made.returncode == 0 and (tmp_path / "new" / "project" / "coopy.toml").is_file()
    named = coopy("init", "other.toml", cwd=tmp_path)  # a .toml path is the file itself
    assert named.returncode == 0 and (tmp_path / "other.toml").is_file()
    (tmp_path / "existing" / "coopy.toml").write_text("# mine\n")
    again = coopy("init", "existing", cwd=tmp_path)
    assert again.returncode == 2 and "existing/coopy.toml: already exists" in again.stderr
    assert (tmp_path / "existing" / "coopy.toml").read_text() == "# mine\n", "never overwritten"


# ==================================================================== states
def _readme_states() -> list[str]:
    """The words in backticks of the README's sentence `A run's states: ...`."""
    paragraph = next(p for p in (REPO / "README.md").read_text().split("\n\n") if p.startswith("A run's states:"))
    sentence = paragraph.replace("\n", " ").split(". ")[0]
    return re.findall(r"\w+", " ".join(re.findall(r"`([^`]*)`", sentence)))


def test_the_readme_lists_exactly_the_engines_states() -> None:
    assert sorted(set(_readme_states())) == sorted(s.value for s in RunState)


STATE_WORDS = r"waiting|queued|running|done|failed|cancelled|skipped|blocked|pending|started|finished|ok|error"


def test_every_state_the_cli_prints_is_one_the_readme_lists(tmp_path: Path) -> None:
    cfg = make_and_use(tmp_path, fails="x=2")
    printed: list[str] = []
    waiting = coopy("status", "coopy.toml", cwd=tmp_path)
    printed += re.findall(rf"\b({STATE_WORDS}) \d", waiting.stdout)
    assert "waiting 3" in waiting.stdout
    run = coopy("run", "coopy.toml", cwd=tmp_path)  # not a terminal: a line per event
    assert run.returncode == 1
    printed += [ln.split()[0] for ln in run.stdout.splitlines() if not ln.startswith(("make ", "use "))]
    printed += re.findall(rf"\b({STATE_WORDS}) \d", run.stdout)
    text = coopy("status", "coopy.toml", cwd=tmp_path).stdout
    printed += re.findall(rf"\b({STATE_WORDS})[ :]", text)
    data = json.loads(coopy("status", str(cfg), "--json", cwd=tmp_path).stdout)
    printed += [r["state"] for r in data["runs"]] + [k for s in data["stages"] for k in s["counts"]]
    rows = list(csv.DictReader(io.StringIO(coopy("export", "coopy.toml", cwd=tmp_path).stdout)))
    printed += [v for row in rows for k, v in row.items() if k.endswith(".state")]
    exported = json.loads(coopy("export", "coopy.toml", "--format", "json", cwd=tmp_path).stdout)
    printed += [st["state"] for row in exported for st in row["stages"].values()]
    seen = set(printed) - {"warning:", "error:"}
    assert {"waiting", "done", "failed", "skipped", "blocked"} <= seen, seen
    assert seen <= set(_readme_states()), f"printed but not in the README: {seen - set(_readme_states())}"


# ==================================================================== rates and ETAs
def _view(paused: bool = False, **counts: int) -> StageView:
    full = {s.value: 0 for s in RunState} | counts
    total = sum(full.values())
    return StageView("train", 0, 2, paused, full, total=total)


@pytest.mark.parametrize(
    ("view", "active", "done_before", "rate", "eta"),
    [
        (_view(done=4, queued=2, running=2), 60.0, 0, "4.0/min", "ETA 1m00s"),  # 4 left at 4/min
        (_view(done=4, queued=2, running=2), 60.0, 3, None, None),  # one run done in this session: no rate yet
        (_view(done=2, queued=2), 0.5, 0, None, None),  # too soon to say
        (_view(done=2, queued=2), None, 0, None, None),  # never started in this session (all done before)
        (_view(done=8), 0.1, 0, None, None),  # nothing left: `done`, not 31271.1/min
        (_view(done=3, skipped=5), 10.0, 0, None, None),
        (_view(True, done=4, queued=2), 60.0, 0, "4.0/min", None),  # paused: no ETA
        (_view(done=4, waiting=4), 60.0, 0, "4.0/min", None),  # only waiting on other stages: no ETA
        (_view(done=2, queued=30), 3600.0, 0, "2.0/h", "ETA 15h00m"),
    ],
)
def test_rates_and_etas_only_where_they_mean_something(
    view: StageView, active: float | None, done_before: int, rate: str | None, eta: str | None
) -> None:
    line = stage_line(view, active, done_before=done_before)
    found_rate = re.search(r"\d+\.\d/(min|h)", line)
    assert (found_rate.group(0) if found_rate else None) == rate, line
    found_eta = re.search(r"ETA \S+", line)
    assert (found_eta.group(0) if found_eta else None) == eta, line
    if not (view.counts["queued"] or view.counts["running"] or view.counts["waiting"]):
        assert line.endswith("  done"), line


def test_a_finished_pipeline_prints_no_rate_or_eta(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
        [tasks.matrix]
        x = [1, 2, 3, 4]
        [[stages]]
        name = "s"
        workers = 4
        command = ["true"]
        """,
    )
    assert coopy("run", "coopy.toml", cwd=tmp_path).returncode == 0
    again = coopy("run", "coopy.toml", cwd=tmp_path)  # nothing left to do
    assert again.returncode == 0
    assert again.stdout.strip() == "s [0/4] queued 0  running 0  done 4/4  failed 0  done", again.stdout
    assert "/min" not in again.stdout and "ETA" not in again.stdout
