"""CooPy's demo pipeline, defined in Python: `python demo/task_demo.py` (about 30 seconds).

Six configurations (3 models x 2 seeds) go through prepare -> train -> evaluate. Every stage has its own
queue and worker cap (3, 2, 2), and a configuration moves on the moment its run ends. `resnet,seed=2`
runs out of memory on its first training attempt, so the retry shows. Progress is a live line per stage.

The DemoScripter builds each stage's command in Python; a DemoDetector per stage polls for the file
the run must write. Stop it with Ctrl-C: the commands go on, and the next `python demo/task_demo.py`
adopts them. `--fresh` starts over. Watch it from another terminal: `coopy-tui demo/task_demo.py`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from coopy_core import (
    DetectContext,
    Detector,
    Launch,
    Matrix,
    Pipeline,
    Results,
    Scripter,
    Stage,
    Status,
    Task,
    Verdict,
)

HERE = Path(__file__).resolve().parent
OUT = "out/python"  # under demo/
STATE_DIR = ".coopy-task-demo"  # under demo/


class DemoScripter(Scripter):
    """`python <stage>.py --task ... --model ... --seed ... --attempt N --out out/python`, run in demo/."""

    def script(self, task: Task, attempt: int) -> Launch:
        argv = [sys.executable, f"{self.stage.name}.py", "--task", task.name, "--attempt", str(attempt), "--out", OUT]
        for key in ("model", "seed"):
            argv += [f"--{key}", str(task.params[key])]
        return Launch(argv=argv, cwd=HERE, env={"PYTHONUNBUFFERED": "1"})


class DemoDetector(Detector):
    """Done once the process exited 0 and its output file is there; polled while it runs, so the UI
    says what the run is waiting for."""

    polls = True

    def __init__(self, output: str) -> None:
        self.output = output

    def check(self, ctx: DetectContext) -> Verdict:
        path = HERE / OUT / ctx.task / self.output
        if ctx.exit_code is None:
            return Verdict(Status.RUNNING, f"waiting for {path.relative_to(HERE)}")
        if ctx.exit_code != 0:
            return Verdict(Status.FAILED, f"exit code {ctx.exit_code}")
        if not path.exists():
            return Verdict(Status.FAILED, f"exited 0 but wrote no {self.output}")
        return Verdict(Status.DONE)


pipeline = Pipeline(
    "task-demo",
    poll_interval=0.5,
    state_dir=STATE_DIR,
    matrix=Matrix(model=["mlp", "cnn", "resnet"], seed=[1, 2]),
    stages=[
        Stage("prepare", workers=3, scripter=DemoScripter, detector=DemoDetector("data.json")),
        Stage(
            "train",
            workers=2,
            retries=1,
            backoff=1,
            timeout=120,
            scripter=DemoScripter,
            detector=DemoDetector("model.json"),
        ),
        Stage("evaluate", workers=2, scripter=DemoScripter, detector=DemoDetector("score.json")),
    ],
)


def table(results: Results) -> str:
    """A line per run, each column as wide as its widest cell (a name like `model=resnet,seed=1` included)."""
    header = ("stage", "configuration", "state", "attempts", "seconds", "exit codes")
    rows = [
        (
            run.stage,
            run.task,
            str(run.state),
            str(len(run.attempts)),
            f"{run.duration:.1f}" if run.duration is not None else "--",
            ",".join(str(a.exit_code) for a in run.attempts),
        )
        for run in results
    ]
    widths = [max(len(cells[i]) for cells in (header, *rows)) for i in range(len(header))]
    right = (False, False, False, True, True, False)
    lines = [
        "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True))
        for cells in (header, *rows)
    ]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help=f"start over: remove demo/{STATE_DIR} and demo/{OUT}")
    args = parser.parse_args(argv)
    if args.fresh:
        shutil.rmtree(HERE / STATE_DIR, ignore_errors=True)
        shutil.rmtree(HERE / OUT, ignore_errors=True)
    if pipeline.status().passed:
        print("everything is done already; `python demo/task_demo.py --fresh` starts over")
        return 0
    try:
        results = pipeline.run(progress=True)
    except KeyboardInterrupt:
        print("stopped; `python demo/task_demo.py` again adopts the running commands")
        return 130
    print()
    print(table(results))
    print("all passed" if results.passed else f"{len(results.failed)} run(s) did not pass")
    return 0 if results.passed else 1


if __name__ == "__main__":
    sys.exit(main())
