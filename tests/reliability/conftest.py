"""The reliability suite: every test here is marked `reliability` and reports what it measured; at the end of a
session that ran them, a report is written from those numbers only, never into the source tree:

- `COOPY_RELIABILITY_REPORT=PATH`: to PATH (the committed RELIABILITY.md is made this way; see its first line);
- otherwise to `<temp dir>/coopy-reliability-<uid>/RELIABILITY.md` (the path is said at the end of the run);
- `COOPY_NO_RELIABILITY_REPORT=1`: not at all.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPORT: dict[str, Any] = {"sections": {}, "outcomes": {}, "written": None}
REPORT_VAR = "COOPY_RELIABILITY_REPORT"
COMMAND = f"{REPORT_VAR}=RELIABILITY.md pytest tests/reliability"  # run from the repository's root


def report_path() -> Path:
    given = os.environ.get(REPORT_VAR)
    if given:
        return Path(given).resolve()
    return Path(tempfile.gettempdir()) / f"coopy-reliability-{os.getuid()}" / "RELIABILITY.md"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A test's own section of RELIABILITY.md: put what it measured here."""
    section: dict[str, Any] = {}
    REPORT["sections"][request.node.nodeid.split("::", 1)[1]] = section
    return section


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/reliability/" in report.nodeid:
        REPORT["outcomes"][report.nodeid.split("::", 1)[1]] = report.outcome
    elif report.when == "setup" and report.skipped and "tests/reliability/" in report.nodeid:
        REPORT["outcomes"][report.nodeid.split("::", 1)[1]] = "skipped"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REPORT["outcomes"] or os.environ.get("COOPY_NO_RELIABILITY_REPORT"):
        return
    lines = [
        "# Reliability",
        "",
        f"Made with `{COMMAND}` (from the repository's root; plain `pytest` writes it to a temp dir) on "
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}).",
        "Only what that run measured; a test that did not run is not listed.",
        "",
        "| test | outcome | measured |",
        "|---|---|---|",
    ]
    total_lost = 0
    for name, outcome in REPORT["outcomes"].items():
        section = REPORT["sections"].get(name, {})
        total_lost += int(section.get("lost", 0))
        measured = "; ".join(f"{k}: {v}" for k, v in section.items())
        lines.append(f"| `{name}` | {outcome} | {measured} |")
    sums: dict[str, int] = {}
    for section in REPORT["sections"].values():
        for key in ("runs", "kills survived", "faults tried", "bad inputs tried", "fuzz examples"):
            if isinstance(section.get(key), int):
                sums[key] = sums.get(key, 0) + section[key]
    lines += ["", "Totals: " + ", ".join(f"{k} {v}" for k, v in sums.items()) + f", lost {total_lost}.", ""]
    path = report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    REPORT["written"] = path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT["written"] is not None:
        terminalreporter.write_line(f"reliability report: {REPORT['written']}")
