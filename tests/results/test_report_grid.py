"""The report of a grid (dataset × model × seed) as a person reads it: results first and summarised over the
seeds by default, runs named by the params that differ (not `datas…`), metric bars on an axis from zero."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.browser import RefusingProxy, chromium, run_chromium
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

GRID = """
[pipeline]
name = "grid"
[tasks.matrix]
dataset = ["cifar", "mnist"]
model = ["cnn", "mlp"]
seed = [1, 2, 3]
[[stages]]
name = "train"
workers = 4
command = ["python3", "-c", '''
import json, os, time, zlib
time.sleep(0.3)
name = os.environ["COOPY_TASK"]
value = 0.976 + zlib.crc32(name.encode()) % 40 / 10000
open(os.environ["COOPY_METRICS"], "a").write(json.dumps(dict(accuracy=value)) + "\\n")
''']
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grid")


@pytest.fixture(scope="module")
def report(folder: Path) -> str:
    cfg = write_config(folder, GRID)
    ran = coopy("run", str(cfg), cwd=folder, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = folder / "report.html"
    made = coopy("report", str(cfg), "--output", str(out), cwd=folder)
    assert made.returncode == 0, made.stderr
    return out.read_text()


def section(text: str, name: str) -> str:
    start = text.index(f'<section id="{name}">')
    return text[start : text.index("</section>", start)]


def test_results_come_before_the_stages_and_the_timeline(report: str) -> None:
    where = {name: report.index(f'<section id="{name}">') for name in ("results", "stages", "timeline", "curves")}
    assert where["results"] < where["curves"] < where["stages"] < where["timeline"]
    nav = report[report.index("<nav>") : report.index("</nav>")]
    assert nav.index("#results") < nav.index("#stages")


def test_a_grid_with_seeds_is_grouped_by_the_other_varying_params_without_being_asked(report: str) -> None:
    results = section(report, "results")
    assert "Grouped by dataset, model (mean ± std, n)" in results
    grouped = results[results.index('id="grouped-table"') : results.index('id="results-table"')]
    groups = re.findall(r'<tr data-task="([^"]+)"', grouped)
    assert groups == ["dataset=cifar,model=cnn", "dataset=cifar,model=mlp", "dataset=mnist,model=cnn",
                      "dataset=mnist,model=mlp"]  # fmt: skip
    assert "differ in dataset, model, seed" in results
    # the full table keeps every configuration, rows of one dataset together
    rows = re.findall(r'<tr data-task="([^"]+)"', results[results.index('id="results-table"') :])
    assert len(rows) == 12
    assert [r.split(",")[0] for r in rows] == ["dataset=cifar"] * 6 + ["dataset=mnist"] * 6


def test_runs_are_labelled_by_the_values_that_differ(report: str) -> None:
    curves = section(report, "curves")
    labels = set(re.findall(r">((?:cifar|mnist) · (?:cnn|mlp) · \d)<", curves))
    assert len(labels) == 10  # the best ten runs, each by its dataset · model · seed
    assert "datas…" not in report
    timeline = section(report, "timeline")
    assert re.search(r">(cifar|mnist) · (cnn|mlp) · \d<", timeline), "no bar of the timeline names its params"


def test_metric_bars_start_at_zero(report: str) -> None:
    curves = section(report, "curves")
    ticks = [float(t) for t in re.findall(r'<g id="xtick_\d+">.*?>(-?[\d.]+)</text>', curves, flags=re.S)]
    assert ticks, "the metric chart has no x tick labels"
    assert ticks[0] == 0.0, ticks  # values are 0.976-0.980: cut at 0.976, a bar's length would mean nothing
    assert max(ticks) >= 0.98


# where the grouped table and the sections are, laid out by the browser (written into the DOM it dumps)
MEASURE = """<script>
var edge = function (sel) { return Math.round(document.querySelector(sel).getBoundingClientRect().top); };
document.body.dataset.layout = [edge('#grouped-table'), edge('#stages'), window.innerHeight].join(' ');
</script>"""


@pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_in_a_browser_the_grouped_results_are_on_the_first_screen(report: str, folder: Path, tmp_path: Path) -> None:
    page = tmp_path / "measured.html"
    page.write_text(report.replace("</body>", MEASURE + "</body>"))
    proxy = RefusingProxy()
    try:
        out = run_chromium(page.as_uri(), tmp_path / "profile", proxy, "--window-size=1400,1000", "--dump-dom")
    finally:
        proxy.close()
    assert out.returncode == 0, out.stderr[-2000:]
    found = re.search(r'data-layout="(\d+) (\d+) (\d+)"', out.stdout)
    assert found, "the page did not lay out"
    grouped, stages, height = map(int, found.groups())
    assert grouped < height - 100, (grouped, height)  # seen without scrolling, with some of its rows
    assert stages > grouped


def test_the_groups_are_drawn_as_dots_with_their_spread(report: str) -> None:
    results = section(report, "results")
    start = results.index('aria-label="groups"')
    chart = results[start : results.index("</svg>", start)]
    labels = re.findall(r">((?:cifar|mnist) · (?:cnn|mlp))<", chart)
    assert sorted(labels) == ["cifar · cnn", "cifar · mlp", "mnist · cnn", "mnist · mlp"]
    assert "mean ± std, dots are runs" in chart
    assert results.index('id="grouped-table"') < start < results.index('id="results-table"')
