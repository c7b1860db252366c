"""A report of a large sweep stays a file a browser opens: past 5,000 attempts the timeline shows how many ran
per stage over time (not a bar each), and past 5,000 rows a table shows the first 5,000 and says where all of
them are (`coopy results --format csv`, which has every row)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from coopy_core import load_config
from coopy_core.report.charts import running_means
from coopy_core.report.html import ReportOptions, write_report
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config
from tests.helpers.report_store import BIG, fill_store


def test_a_sweep_of_5100_configurations(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BIG.format(seeds=", ".join(str(s) for s in range(510))))
    attempts = fill_store(cfg)
    assert attempts > 5000
    out = tmp_path / "report.html"
    write_report(load_config(cfg), out, ReportOptions())
    text = out.read_text()
    assert len(text.encode()) < 5 * 2**20

    timeline = text[text.index('<section id="timeline">') : text.index('<section id="durations">')]
    assert f"{attempts:,} attempts, too many to draw one by one" in timeline
    assert 'aria-label="running"' in timeline and '<g id="attempt:' not in text
    assert "(cap 16)" in timeline  # train's worker cap, dashed beside its running count

    results = text[text.index('<table id="results-table"') : text.index("</table>", text.index('id="results-table"'))]
    assert results.count("<tr data-task=") == 5000
    assert "The first 5,000 of 5,100 rows (in config order" in text
    assert f"coopy results {cfg} --format csv" in text
    assert 'data-task="model=m0,seed=0"' in results and 'data-task="model=m9,seed=509"' not in results

    csv = coopy("results", str(cfg), "--format", "csv", cwd=tmp_path)
    assert csv.returncode == 0, csv.stderr
    assert len(csv.stdout.strip().splitlines()) == 5100 + 1  # the note's promise: every row, and the header


def test_a_small_sweep_keeps_a_bar_per_attempt(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BIG.format(seeds="0, 1, 2, 3, 4"))
    attempts = fill_store(cfg)
    out = tmp_path / "report.html"
    write_report(load_config(cfg), out, ReportOptions())
    text = out.read_text()
    assert len(re.findall(r'<g id="attempt:', text)) == attempts
    assert "too many to draw" not in text and "The first 5,000" not in text


def test_the_running_count_is_the_mean_in_each_slice() -> None:
    """Two attempts over [0, 10) and one over [0, 5): 3 running in the first half, 2 in the second; a slice
    across an end averages (2.5)."""
    starts, ends = np.array([0.0, 0.0, 0.0]), np.array([10.0, 10.0, 5.0])
    assert running_means(starts, ends, np.array([0.0, 5.0, 10.0])).tolist() == [3.0, 2.0]
    assert running_means(starts, ends, np.array([2.5, 7.5])).tolist() == [2.5]
    # back to back on one worker (an end and the next start at the same moment) is one running, not two
    assert running_means(np.array([0.0, 4.0]), np.array([4.0, 8.0]), np.array([0.0, 8.0])).tolist() == [1.0]
