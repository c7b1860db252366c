"""`coopy report` opened in a real headless Chromium that cannot reach any network: the DOM has a results row per
configuration and a timeline bar per attempt, the page is not blank, and not one request leaves the file."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.browser import RefusingProxy, chromium, run_chromium
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

pytestmark = pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium (apt-get install chromium)")

TRAIN = """
import json, os, sys
x, attempt = int(sys.argv[1]), int(sys.argv[2])
print(f"training x={x} attempt {attempt}", flush=True)
with open(os.environ["COOPY_METRICS"], "a") as f:
    for step in range(1, 6):
        f.write(json.dumps({"step": step, "loss": round(1 / (step * x), 4)}) + "\\n")
if x == 2 and attempt == 1:
    print("transient trouble", flush=True)
    sys.exit(1)
if x == 4:
    print("boom: the last words of a broken run", flush=True)
    sys.exit(7)
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("report")
    (tmp / "train.py").write_text(TRAIN)
    cfg = write_config(
        tmp,
        """
        [pipeline]
        name = "browser-test"
        poll_interval = 0.2
        [tasks.matrix]
        x = [1, 2, 3, 4]
        [[stages]]
        name = "prepare"
        command = ["sleep", "0.3"]
        workers = 2
        [[stages]]
        name = "train"
        command = ["python3", "train.py", "{x}", "{attempt}"]
        workers = 2
        retries = 1
        backoff = 0
        [[stages]]
        name = "evaluate"
        command = ["sh", "-c", "echo '{{\\"accuracy\\": 0.{x}}}' > m.{x}.json"]
        metrics = "m.{x}.json"
        """,
    )
    out = coopy("run", str(cfg), cwd=tmp, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr  # x=4 fails for good
    html = tmp / "report.html"
    out = coopy("report", str(cfg), "-o", str(html), cwd=tmp, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"wrote {html}")
    return cfg, html


def attempts(cfg: Path) -> set[str]:
    conn = sqlite3.connect(cfg.parent / ".coopy" / "state.sqlite")
    try:
        return {f"attempt:{s}/{t}/{a}" for t, s, a in conn.execute("SELECT task, stage, attempt FROM attempts")}
    finally:
        conn.close()


def test_the_file_asks_for_nothing_outside_itself(report: tuple[Path, Path]) -> None:
    text = report[1].read_text()
    assert not re.search(r"https?://", text), re.findall(r".{40}https?://.{40}", text)[:3]
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)
    assert "@import" not in text
    assert len(text.encode()) < 2 * 2**20


def test_dom_has_every_row_and_every_attempt(report: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, html = report
    proxy = RefusingProxy()
    try:
        out = run_chromium(html.as_uri(), tmp_path / "profile", proxy, "--dump-dom")
    finally:
        proxy.close()
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    table = dom[dom.index('id="results-table"') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'<tr data-task="([^"]+)"', table) == ["x=1", "x=2", "x=3", "x=4"]
    bars = set(re.findall(r'<g id="(attempt:[^"]+)"', dom))
    expected = attempts(cfg)
    assert len(expected) == 4 + 6 + 3  # prepare 4, train 4 + two retries, evaluate 3 (x=4 blocked)
    assert bars == expected
    assert "boom: the last words of a broken run" in dom  # the failure with its log's last lines
    assert "transient trouble" in dom
    assert proxy.page_requests == []


def test_screenshot_is_not_blank_and_nothing_was_requested(report: tuple[Path, Path], tmp_path: Path) -> None:
    import matplotlib.image

    _cfg, html = report
    shot = tmp_path / "shot.png"
    proxy = RefusingProxy()
    try:
        size = "--window-size=1280,2400"
        out = run_chromium(html.as_uri(), tmp_path / "profile", proxy, f"--screenshot={shot}", size)
    finally:
        proxy.close()
    assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
    pixels = matplotlib.image.imread(str(shot))[:, :, :3]
    colours = {tuple(p) for p in (pixels[::7, ::7].reshape(-1, 3) * 255).astype(int).tolist()}
    assert len(colours) > 100  # text, charts, badges: far from one flat colour
    background = (pixels > 0.97).all(axis=2).mean()
    assert background < 0.9
    # the green of done bars and the red of failed ones are on the page (the timeline was drawn)
    flat = (pixels.reshape(-1, 3) * 255).astype(int)
    assert ((abs(flat - [0x2F, 0x9E, 0x44]).sum(axis=1)) < 30).sum() > 500
    assert ((abs(flat - [0xE0, 0x31, 0x31]).sum(axis=1)) < 30).sum() > 100
    assert proxy.page_requests == []


def test_a_link_can_open_the_table_sorted(report: tuple[Path, Path], tmp_path: Path) -> None:
    _cfg, html = report
    proxy = RefusingProxy()
    try:
        out = run_chromium(html.as_uri() + "#sort=-accuracy", tmp_path / "profile", proxy, "--dump-dom")
    finally:
        proxy.close()
    table = out.stdout[out.stdout.index('id="results-table"') :]
    assert re.findall(r'<tr data-task="([^"]+)"', table[: table.index("</table>")]) == ["x=3", "x=2", "x=1", "x=4"]
