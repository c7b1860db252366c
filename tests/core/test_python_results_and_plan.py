"""From Python, what the CLI says: `Results` carries each run's metrics (as `coopy results`), `to_records()` and
`to_pandas()` give one row per configuration, and `pipeline.plan()` / `pipeline.why()` say what `coopy plan` /
`coopy why` say. A real pipeline file run by a real interpreter; its runs report metrics through
$COOPY_METRICS."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import coopy

PIPELINE = """
import json, sys
from coopy_core import Matrix, Pipeline, Stage

pipeline = Pipeline(
    "py",
    state_dir=".coopy",
    poll_interval=0.2,
    matrix=Matrix(lr=[0.1, 0.01], seed=[1]),
    stages=[
        Stage("train", ["python3", "train.py", "{lr}", "out/{task}"], done_when=["out/{task}"], code=["train.py"]),
    ],
)

if __name__ == "__main__":
    what = sys.argv[1]
    if what == "run":
        results = pipeline.run()
        run = results.run("train", "lr=0.1,seed=1")
        print(json.dumps({"metrics": run.metrics, "records": results.to_records()}))
    elif what == "plan":
        plan = pipeline.plan()
        print(json.dumps({"runs": plan.runs, "current": plan.current, "dict": plan.as_dict(), "text": str(plan)}))
    elif what == "why":
        print(pipeline.why("train", "lr=0.1,seed=1"))
    elif what == "pandas":
        frame = pipeline.status().to_pandas()
        print(json.dumps({"columns": list(frame.columns), "acc": sorted(frame["acc"].tolist())}))
    elif what == "status":
        print(json.dumps(pipeline.status().to_records()))
"""

TRAIN = """
import json, os, pathlib, sys
lr, out = float(sys.argv[1]), sys.argv[2]
with open(os.environ["COOPY_METRICS"], "a") as f:
    f.write(json.dumps({"step": 1, "loss": 1.0}) + "\\n")
    f.write(json.dumps({"step": 2, "loss": lr, "acc": 1 - lr}) + "\\n")
pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
pathlib.Path(out).write_text("ok")
"""


def python(folder: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "pipeline.py", *args], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def test_results_carry_metrics_and_records(folder: Path) -> None:
    out = json.loads(python(folder, "run"))
    assert out["metrics"] == {"loss": 0.1, "acc": 0.9}
    assert out["records"] == [
        {"task": "lr=0.1,seed=1", "lr": 0.1, "seed": 1, "train.state": "done", "loss": 0.1, "acc": 0.9},
        {"task": "lr=0.01,seed=1", "lr": 0.01, "seed": 1, "train.state": "done", "loss": 0.01, "acc": 0.99},
    ]
    assert json.loads(python(folder, "status")) == out["records"], "status() from the store says the same"
    cli = coopy("results", "pipeline.py", "--format", "json", cwd=folder)
    assert cli.returncode == 0, cli.stderr
    rows = {r["task"]: r["metrics"] for r in json.loads(cli.stdout)["rows"]}
    assert rows == {r["task"]: {"loss": r["loss"], "acc": r["acc"]} for r in out["records"]}


def test_plan_and_why_say_what_coopy_plan_and_why_say(folder: Path) -> None:
    before = json.loads(python(folder, "plan"))
    assert before["runs"] == 2 and set(before["dict"]["would_run"]) == {"new"}
    python(folder, "run")
    assert json.loads(python(folder, "plan"))["runs"] == 0
    assert python(folder, "why").strip() == "train/lr=0.1,seed=1 is current: nothing that made it changed"
    (folder / "train.py").write_text(TRAIN + "# changed\n")
    after = json.loads(python(folder, "plan"))
    cli = coopy("plan", "pipeline.py", "--json", cwd=folder)
    assert cli.returncode == 0, cli.stderr
    assert after["dict"] == json.loads(cli.stdout)
    assert after["runs"] == 2 and "code changed (2):" in after["text"]
    said = python(folder, "why").strip()
    assert said == "train/lr=0.1,seed=1 runs again: train.py changed"
    assert said == coopy("why", "pipeline.py", "train", "lr=0.1,seed=1", cwd=folder).stdout.strip()


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas is not installed (not a dependency)")
def test_to_pandas_is_the_records_as_a_data_frame(folder: Path) -> None:
    python(folder, "run")
    out = json.loads(python(folder, "pandas"))
    assert out == {"columns": ["task", "lr", "seed", "train.state", "loss", "acc"], "acc": [0.9, 0.99]}


def test_to_pandas_without_pandas_says_how_to_get_it(folder: Path) -> None:
    python(folder, "run")
    blocker = folder / "nopandas"
    blocker.mkdir()
    (blocker / "pandas.py").write_text("raise ImportError('no pandas here')\n")
    script = "import sys; sys.path.insert(0, 'nopandas'); from pipeline import pipeline; pipeline.status().to_pandas()"
    result = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "ImportError: Results.to_pandas() needs pandas: pip install pandas"
