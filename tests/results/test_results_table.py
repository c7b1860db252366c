"""`coopy results` on a real pipeline's store: the grouped numbers against a hand computation, the JSON / CSV /
Markdown / table columns, sorting with missing values, a fan-in stage's rows, and bad keys (one line, exit 2)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

# loss and acc per configuration; model=b,seed=3 reports no loss (a run that only evaluated, say)
VALUES = {
    "model=a,seed=1": {"loss": 0.5, "acc": 0.61},
    "model=a,seed=2": {"loss": 0.7, "acc": 0.64},
    "model=a,seed=3": {"loss": 0.9, "acc": 0.70},
    "model=b,seed=1": {"loss": 0.1, "acc": 0.90},
    "model=b,seed=2": {"loss": 0.2, "acc": 0.80},
    "model=b,seed=3": {"acc": 0.85},
}

TRAIN = """
import json, os, sys
values = json.load(open("values.json"))[sys.argv[1]]
with open(os.environ["COOPY_METRICS"], "a") as f:
    if "loss" in values:
        f.write(json.dumps({"step": 1, "loss": values["loss"] * 2}) + "\\n")
        f.write(json.dumps({"step": 2, "loss": values["loss"]}) + "\\n")
    f.write(json.dumps({"acc": values["acc"]}) + "\\n")
"""

SUMMARY = """
import json, os
doc = json.load(open(os.environ["COOPY_MEMBERS"]))
with open(os.environ["COOPY_METRICS"], "a") as f:
    best = max(m["params"]["seed"] for m in doc["members"])
    f.write(json.dumps({"members": len(doc["members"]), "best_seed": best}) + "\\n")
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished pipeline: train per configuration, then a fan-in `summary` per model."""
    tmp = tmp_path_factory.mktemp("results")
    (tmp / "train.py").write_text(TRAIN)
    (tmp / "summary.py").write_text(SUMMARY)
    (tmp / "values.json").write_text(json.dumps(VALUES))
    cfg = write_config(
        tmp,
        """
        [pipeline]
        name = "r"
        poll_interval = 0.2
        [tasks.matrix]
        model = ["a", "b"]
        seed = [1, 2, 3]
        [[stages]]
        name = "train"
        command = ["python3", "train.py", "{task}"]
        workers = 3
        [[stages]]
        name = "summary"
        over = ["model"]
        command = ["python3", "summary.py"]
        """,
    )
    out = coopy("run", str(cfg), cwd=tmp, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return cfg


def results(cfg: Path, *args: str) -> str:
    out = coopy("results", str(cfg), *args, cwd=cfg.parent)
    assert out.returncode == 0, out.stderr
    return out.stdout


def sample_std(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def test_one_row_per_configuration_json(pipeline: Path) -> None:
    data = json.loads(results(pipeline, "--format", "json"))
    assert [r["task"] for r in data["rows"]] == list(VALUES)
    for row in data["rows"]:
        assert set(row) >= {"task", "params", "stages", "metrics"}
        assert row["metrics"] == VALUES[row["task"]]  # the last loss (step 2), not the first
        assert row["params"] == {"model": row["task"][6], "seed": int(row["task"][-1])}
        assert row["stages"]["train"]["state"] == "done"
        assert row["stages"]["summary"]["state"] == "done"  # the run of its group
    assert data["metrics"] == ["loss", "acc"]


def test_grouped_numbers_match_a_hand_computation(pipeline: Path) -> None:
    data = json.loads(results(pipeline, "--group-by", "model", "--format", "json"))
    by = {r["task"]: r for r in data["rows"]}
    assert list(by) == ["model=a", "model=b"]
    a, b = by["model=a"], by["model=b"]
    assert a["n"] == 3 and b["n"] == 3
    assert a["params"] == {"model": "a"}
    assert a["metrics"]["loss"] == pytest.approx((0.5 + 0.7 + 0.9) / 3)
    assert a["std"]["loss"] == pytest.approx(0.2)  # sqrt((0.2² + 0 + 0.2²) / (3 - 1))
    assert a["metrics"]["acc"] == pytest.approx((0.61 + 0.64 + 0.70) / 3)
    assert a["std"]["acc"] == pytest.approx(sample_std([0.61, 0.64, 0.70]))
    assert b["metrics"]["loss"] == pytest.approx(0.15) and b["count"]["loss"] == 2  # seed 3 reported none
    assert b["std"]["loss"] == pytest.approx(math.sqrt(0.005))
    assert b["count"]["acc"] == 3 and b["metrics"]["acc"] == pytest.approx(0.85)
    assert b["members"] == ["model=b,seed=1", "model=b,seed=2", "model=b,seed=3"]
    assert a["stages"]["train"]["states"] == {"done": 3}
    # the same numbers, as people read them
    text = results(pipeline, "--group-by", "model")
    lines = text.splitlines()
    assert lines[0].split() == ["model", "n", "train", "summary", "loss", "acc"]
    assert "0.7 ± 0.2" in lines[2] and "0.15 ± 0.071 (n=2)" in lines[3]


def test_group_by_a_single_value_per_group_has_no_std(pipeline: Path) -> None:
    data = json.loads(results(pipeline, "--group-by", "model,seed", "--format", "json"))
    assert len(data["rows"]) == 6
    assert all(r["n"] == 1 and all(v is None for v in r["std"].values()) for r in data["rows"])


def test_sort_ascending_descending_and_missing_last(pipeline: Path) -> None:
    asc = [r["task"] for r in json.loads(results(pipeline, "--sort", "loss", "--format", "json"))["rows"]]
    assert asc == [
        "model=b,seed=1",
        "model=b,seed=2",
        "model=a,seed=1",
        "model=a,seed=2",
        "model=a,seed=3",
        "model=b,seed=3",
    ]
    desc = [r["task"] for r in json.loads(results(pipeline, "--sort", "-loss", "--format", "json"))["rows"]]
    assert desc == [
        "model=a,seed=3",
        "model=a,seed=2",
        "model=a,seed=1",
        "model=b,seed=2",
        "model=b,seed=1",
        "model=b,seed=3",
    ]  # no loss: last either way
    grouped = json.loads(results(pipeline, "--group-by", "model", "--sort", "-acc", "--format", "json"))
    assert [r["task"] for r in grouped["rows"]] == ["model=b", "model=a"]


def test_csv_columns(pipeline: Path) -> None:
    rows = list(csv.reader(io.StringIO(results(pipeline, "--format", "csv"))))
    assert rows[0] == ["task", "model", "seed", "train.state", "summary.state", "loss", "acc"]
    assert rows[1] == ["model=a,seed=1", "a", "1", "done", "done", "0.5", "0.61"]
    assert rows[6] == ["model=b,seed=3", "b", "3", "done", "done", "", "0.85"]
    grouped = list(csv.reader(io.StringIO(results(pipeline, "--group-by", "model", "--format", "csv"))))
    assert grouped[0] == [
        "model",
        "n",
        "train.states",
        "summary.states",
        "loss",
        "loss.std",
        "loss.n",
        "acc",
        "acc.std",
        "acc.n",
    ]
    b = grouped[2]
    assert b[:4] == ["b", "3", "done=3", "done=3"]
    assert float(b[4]) == pytest.approx(0.15) and float(b[5]) == pytest.approx(math.sqrt(0.005)) and b[6] == "2"


def test_markdown(pipeline: Path) -> None:
    lines = results(pipeline, "--format", "markdown", "--metrics", "acc").splitlines()
    assert lines[0] == "| task | model | seed | train | summary | acc |"
    assert lines[1] == "|---|---|---|---|---|---:|"
    assert lines[2] == "| model=a,seed=1 | a | 1 | done | done | 0.61 |"
    assert len(lines) == 8


def test_a_fan_in_stage_gives_one_row_per_group(pipeline: Path) -> None:
    data = json.loads(results(pipeline, "--stage", "summary", "--format", "json"))
    assert [(r["task"], r["params"], r["metrics"]) for r in data["rows"]] == [
        ("model=a", {"model": "a"}, {"members": 3.0, "best_seed": 3.0}),
        ("model=b", {"model": "b"}, {"members": 3.0, "best_seed": 3.0}),
    ]
    assert data["rows"][0]["members"] == ["model=a,seed=1", "model=a,seed=2", "model=a,seed=3"]
    assert data["rows"][0]["stages"] == {"summary": {"state": "done", "metrics": {"members": 3.0, "best_seed": 3.0}}}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--group-by", "colour"), "--group-by: no parameter named 'colour' (parameters: model, seed)"),
        (("--sort", "-speed"), "--sort: no metric or parameter named 'speed'"),
        (("--metrics", "f1"), "--metrics: no metric named 'f1'"),
        (("--stage", "nope"), "--stage: no stage named 'nope'"),
    ],
)
def test_bad_keys_say_so_in_one_line(pipeline: Path, args: tuple[str, ...], words: str) -> None:
    out = coopy("results", str(pipeline), *args, cwd=pipeline.parent)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and words in out.stderr and "Traceback" not in out.stderr


def test_no_store_yet_lists_the_configurations(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[tasks.matrix]\nx = [1, 2]\n[[stages]]\nname = "s"\ncommand = ["true"]\n')
    data = json.loads(results(cfg, "--format", "json"))
    assert [(r["task"], r["stages"]["s"]["state"], r["metrics"]) for r in data["rows"]] == [
        ("x=1", "waiting", {}),
        ("x=2", "waiting", {}),
    ]
    assert not (tmp_path / ".coopy").exists()  # reading writes nothing


def test_status_json_carries_the_last_values(pipeline: Path) -> None:
    from tests.helpers.cli import status

    runs = {(r["stage"], r["task"]): r for r in status(pipeline)["runs"]}
    assert runs[("train", "model=a,seed=1")]["metrics"] == {"loss": 0.5, "acc": 0.61}
    assert runs[("summary", "model=b")]["metrics"] == {"members": 3.0, "best_seed": 3.0}
