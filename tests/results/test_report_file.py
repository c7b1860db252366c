"""The report file itself: its size at 1,000 configurations, what it says without matplotlib, and `--watch`
rewriting it atomically while a real pipeline runs, then stopping by itself."""

from __future__ import annotations

import builtins
import re
import time
from pathlib import Path
from typing import Any

import pytest

from coopy_core import load_config
from coopy_core.report.html import ReportOptions, write_report
from coopy_core.state.store import EngineLock
from tests.helpers.cli import coopy, coopy_popen
from tests.helpers.engine import write_config
from tests.helpers.report_store import BIG, fill_store
from tests.helpers.waiting import poll


@pytest.mark.slow
def test_a_thousand_configurations_fit_in_a_few_megabytes(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BIG.format(seeds=", ".join(str(i) for i in range(100))))
    attempts = fill_store(cfg)
    out = tmp_path / "report.html"
    line = write_report(load_config(cfg), out, ReportOptions(group_by=["model"]))
    text = out.read_text()
    size = len(text.encode())
    assert size < 5 * 2**20, f"{size / 2**20:.1f} MB"
    assert len(re.findall(r'<g id="attempt:', text)) == attempts == 3100
    assert len(re.findall(r'<tr data-task="model=m\d,seed=\d+"', text)) == 1000
    assert len(re.findall(r'<tr data-task="model=m\d"', text)) == 10  # the grouped table
    assert "1000 configurations, 3100 attempts" in line
    assert text.count('class="failure"') == 100  # the newest failures, with a note about the others
    assert "… and 0 earlier" not in text


def test_without_matplotlib_the_tables_are_there_and_say_how_to_get_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(tmp_path, BIG.format(seeds="1, 2"))
    fill_store(cfg)
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = tmp_path / "report.html"
    line = write_report(load_config(cfg), out, ReportOptions())
    text = out.read_text()
    assert "pip install 'coopy[report]'" in line
    assert text.count("Charts need matplotlib") == 3  # timeline, durations, curves (the stages are a table too)
    assert len(re.findall(r'<tr data-task="model=m\d,seed=\d"', text)) == 20
    assert len(re.findall(r'<tr data-task="model=m\d"', text)) == 10  # summarised over the seeds by default
    assert "<svg" not in text


def test_watch_rewrites_while_the_pipeline_runs_and_stops_after(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        name = "w"
        poll_interval = 0.2
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "s"
        command = ["sh", "-c", "echo '{{\\"step\\": 1, \\"loss\\": {x}}}' >> $COOPY_METRICS; sleep 2"]
        workers = 1
        """,
    )
    engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=tmp_path / "run.out")
    poll(lambda: EngineLock.holder(tmp_path / ".coopy"), 30, "the engine to take the state dir", 0.02)
    report = tmp_path / "out" / "report.html"
    watcher = coopy_popen(
        "report",
        str(cfg),
        "-o",
        str(report),
        "--watch",
        "--interval",
        "0.3",
        cwd=tmp_path,
        output=tmp_path / "watch.out",
    )
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while engine.poll() is None and time.monotonic() < deadline:
            if report.exists():
                text = report.read_text()
                assert text.endswith("</html>"), "a half-written report was seen"
                seen.append(text)
            time.sleep(0.05)
        assert engine.returncode == 0
        assert watcher.wait(timeout=30) == 0
    finally:
        for proc in (engine, watcher):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    live = [t for t in seen if 'http-equiv="refresh"' in t]
    assert len(set(live)) >= 3  # rewritten while it ran, each time a different page
    assert any('class="badge running"' in t for t in live)
    final = report.read_text()
    assert 'http-equiv="refresh"' not in final and "finished: every run passed" in final
    assert len(re.findall(r'<g id="attempt:', final)) == 3
    assert not list(report.parent.glob(".*.tmp"))  # no temporary file left behind
    assert "done watching" in (tmp_path / "watch.out").read_text()


def test_report_of_a_pipeline_that_never_ran(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[tasks.matrix]\nx = [1, 2]\n[[stages]]\nname = "s"\ncommand = ["true"]\n')
    out = coopy("report", str(cfg), "-o", "r.html", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "r.html").read_text()
    assert "No attempt has started yet." in text and len(re.findall(r'<tr data-task="', text)) == 2
    assert not (tmp_path / ".coopy").exists()


def test_matplotlib_is_imported_only_when_a_report_is_drawn() -> None:
    import subprocess
    import sys

    code = (
        "import sys, coopy_core, coopy_core.engine, coopy_core.report.html, coopy_core.report.results\n"
        "import coopy_core.cli.main\n"
        "print(sorted(m for m in ('matplotlib', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
