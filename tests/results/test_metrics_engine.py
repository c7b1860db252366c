"""Metrics through a real engine: real processes append to $COOPY_METRICS, the engine picks new lines up while
they run, reads the stage's metrics file at the end, keeps them in the store, and never fails a run for them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from coopy_core import RunState
from tests.helpers.engine import EngineFactory, run_of, wait_finished, wait_state, wait_until, write_config

WRITER = """
import json, os, sys, time, pathlib
task, attempt = sys.argv[1], int(sys.argv[2])
out = pathlib.Path("out") / task
out.mkdir(parents=True, exist_ok=True)
def line(text):
    with open(os.environ["COOPY_METRICS"], "a") as f:
        f.write(text + "\\n")
line(json.dumps({"step": 1, "loss": 0.9}))
gate = out / "go"
while not gate.exists():       # the test lets it finish once it has seen the first value live
    time.sleep(0.02)
line("this is not json")
line(json.dumps({"step": 2, "loss": 0.5 / attempt}))
(out / "metrics.json").write_text(json.dumps({"accuracy": round(0.8 + attempt / 100, 4)}))
if task == "x=2" and attempt == 1:
    sys.exit(3)
"""

CONFIG = """
[pipeline]
name = "m"
poll_interval = 0.2
[tasks.matrix]
x = [1, 2]
[[stages]]
name = "train"
command = ["python3", "writer.py", "{task}", "{attempt}"]
workers = 2
retries = 1
backoff = 0
metrics = "out/{task}/metrics.json"
"""


def rows(state_dir: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(state_dir / "state.sqlite")
    try:
        query = "SELECT task, stage, name, attempt, value, series FROM metrics ORDER BY task, name"
        return conn.execute(query).fetchall()
    finally:
        conn.close()


async def test_live_values_end_values_bad_lines_and_a_retry(tmp_path: Path, start_engine: EngineFactory) -> None:
    (tmp_path / "writer.py").write_text(WRITER)
    engine = await start_engine(write_config(tmp_path, CONFIG))
    # live: the first value shows while the run is still running (it waits for the gate)
    await wait_until(
        lambda: (
            (run_of(engine, "x=1", "train") or run_of(engine, "x=2", "train")) is not None
            and all(
                (r := run_of(engine, t, "train")) is not None and r.metrics.get("loss") == 0.9 for t in ("x=1", "x=2")
            )
        ),
        "both first losses, live",
    )
    assert run_of(engine, "x=1", "train").state == RunState.RUNNING  # type: ignore[union-attr]
    assert {r[0] for r in rows(tmp_path / ".coopy")} == {"x=1", "x=2"}  # in the store already
    series = engine.metric_series("x=1", "train")
    assert series == {"loss": [[1.0, 0.9]]}
    for t in ("x=1", "x=2"):
        (tmp_path / "out" / t / "go").touch()
    await wait_state(engine, "x=1", "train", RunState.DONE)
    # x=2 fails attempt 1 (exit 3), then passes attempt 2: the gate is still there
    assert await wait_finished(engine)
    one = run_of(engine, "x=1", "train")
    two = run_of(engine, "x=2", "train")
    assert one is not None and two is not None
    assert one.metrics == {"loss": 0.5, "accuracy": 0.81}
    assert two.attempt == 2 and two.metrics == {"loss": 0.25, "accuracy": 0.82}  # attempt 2's, not attempt 1's
    stored = rows(tmp_path / ".coopy")
    assert [(r[0], r[2], r[3], r[4]) for r in stored] == [
        ("x=1", "accuracy", 1, 0.81),
        ("x=1", "loss", 1, 0.5),
        ("x=2", "accuracy", 2, 0.82),
        ("x=2", "loss", 2, 0.25),
    ]
    assert json.loads(str(stored[1][5])) == [[1.0, 0.9], [2.0, 0.5]]
    # the bad line: one warning in the log, the run still done
    log = Path(one.log).read_text()
    assert log.count("coopy: metrics:") == 1 and "not JSON" in log
    assert one.state == RunState.DONE


async def test_metrics_survive_a_restart_of_the_engine(tmp_path: Path, start_engine: EngineFactory) -> None:
    (tmp_path / "writer.py").write_text(WRITER)
    cfg = write_config(tmp_path, CONFIG.replace("x = [1, 2]", "x = [1]"))
    engine = await start_engine(cfg)
    await wait_until(
        lambda: (r := run_of(engine, "x=1", "train")) is not None and r.metrics.get("loss") == 0.9, "the first loss"
    )
    await engine.shutdown()  # the command keeps running; the next engine adopts it
    (tmp_path / "out" / "x=1" / "go").touch()
    again = await start_engine(cfg)
    assert (r := run_of(again, "x=1", "train")) is not None and r.metrics.get("loss") == 0.9  # from the store
    assert await wait_finished(again)
    final = run_of(again, "x=1", "train")
    assert final is not None and final.metrics == {"loss": 0.5, "accuracy": 0.81}
    assert again.metric_series("x=1", "train", "loss") == {"loss": [[1.0, 0.9], [2.0, 0.5]]}
