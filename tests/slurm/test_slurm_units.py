"""The Slurm executor's pure parts and the `slurm` config table; these need no cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.errors import ConfigError
from coopy_core.executors import make_executor
from coopy_core.executors.base import LaunchSpec
from coopy_core.executors.slurm import (
    JobState,
    SlurmExecutor,
    batch_script,
    exit_code_of,
    is_transient,
    job_name,
    last_job,
    parse_scontrol,
    parse_squeue,
    slurm_message,
)
from coopy_core.scripter import Launch
from tests.helpers.engine import write_config

AWKWARD = ['it\'s a "test" $HOME * `id` \\n ;|&', "", "two  spaces", "-n", "new\nline"]


def slurm_config(tmp_path: Path, stage_lines: str) -> Path:
    return write_config(
        tmp_path,
        f"""
        [tasks.named]
        t = {{ x = 1 }}

        [[stages]]
        name = "train"
        command = ["true"]
        {stage_lines}
        """,
    )


def test_batch_script_runs_the_argv_exactly_and_records_the_status(tmp_path: Path) -> None:
    status = tmp_path / "status" / "t.1.status"
    status.parent.mkdir()
    code = "import json, sys; print(json.dumps(sys.argv[1:])); sys.exit(4)"
    spec = LaunchSpec(
        run_id=f"{tmp_path}:train/t/1",
        launch=Launch(argv=[sys.executable, "-c", code, *AWKWARD], cwd=tmp_path, env={"MY_VAR": "x y'z"}),
        log=tmp_path / "t.log",
        status=status,
        stage="train",
    )
    script = tmp_path / "job.sh"
    script.write_text(batch_script(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPY_")}
    env["PATH"] = os.pathsep.join([env.get("PATH", ""), os.defpath])  # printf, mv
    result = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True, env=env, cwd="/", timeout=60)
    assert result.returncode == 4
    assert json.loads(result.stdout) == AWKWARD
    assert status.read_text() == "4\n"
    assert "export MY_VAR='x y'\"'\"'z'" in script.read_text()
    assert "#SBATCH" not in script.read_text()


def test_sbatch_argv_carries_the_stage_options(tmp_path: Path) -> None:
    config = load_config(
        slurm_config(
            tmp_path,
            'executor = "slurm"\n'
            '        slurm = { partition = "gpu", time = "1-02:00:00", cpus_per_task = 4, mem = "16G", '
            'gres = "gpu:2", account = "lab", qos = "high", extra_args = ["--constraint=a100", "-N1"] }',
        )
    )
    executor = make_executor("slurm", config)
    assert isinstance(executor, SlurmExecutor)
    spec = LaunchSpec(
        run_id="/s:train/t/1",
        launch=Launch(argv=["true"], cwd=tmp_path),
        log=tmp_path / "l.log",
        status=tmp_path / "t.1.status",
        stage="train",
    )
    argv = executor.sbatch_argv(spec, tmp_path / "t.1.sbatch")
    assert argv[:2] == ["sbatch", "--parsable"]
    for option in (
        f"--job-name={job_name('/s:train/t/1')}",
        "--comment=/s:train/t/1",
        f"--output={tmp_path / 'l.log'}",
        f"--chdir={tmp_path}",
        "--export=ALL",
        "--partition=gpu",
        "--time=1-02:00:00",
        "--cpus-per-task=4",
        "--mem=16G",
        "--gres=gpu:2",
        "--account=lab",
        "--qos=high",
        "--constraint=a100",
        "-N1",
    ):
        assert option in argv
    assert argv[-1] == str(tmp_path / "t.1.sbatch")
    assert executor.poll_interval == config.pipeline.poll_interval


def test_job_name_is_readable_unique_and_comma_free() -> None:
    a = job_name("/one/state:train/model=a,seed=1/2")
    b = job_name("/two/state:train/model=a,seed=1/2")
    assert a.startswith("coopy:train/model=a_seed=1/2:") and "," not in a
    assert a != b


@pytest.mark.parametrize(
    ("state", "exit_code", "expected"),
    [
        ("COMPLETED", "0:0", 0),
        ("FAILED", "3:0", 3),
        ("FAILED (NonZeroExitCode)", "3:0", 3),
        ("FAILED", "0:9", 137),
        ("FAILED (JobLaunchFailure)", "0:0", None),
        ("CANCELLED", "0:15", None),
        ("TIMEOUT", "0:15", None),
        ("OUT_OF_MEMORY", "0:125", None),
        ("NODE_FAIL", "0:0", None),
        ("COMPLETED", "garbage", None),
    ],
)
def test_exit_code_of(state: str, exit_code: str, expected: int | None) -> None:
    assert exit_code_of(state, exit_code) == expected


def test_parsers() -> None:
    jobs = parse_squeue("12|PENDING|Resources\n13|RUNNING|None\n14|COMPLETED|None\n")
    assert jobs["12"].describe() == "PENDING (Resources)"
    assert jobs["13"].describe() == "RUNNING" and not jobs["13"].terminal
    assert jobs["14"].terminal
    assert JobState("1", "COMPLETING").terminal is False
    line = (
        "JobId=12 JobName=x UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) "
        "ExitCode=3:0 RunTime=00:00:02 Comment=a ExitCode=9:9 note"
    )
    assert parse_scontrol(line) == ("FAILED (NonZeroExitCode)", "3:0")
    assert parse_scontrol("garbage") is None
    sacct = "11|other|COMPLETED|0:0\n12|name|FAILED|2:0\n12.batch|batch|FAILED|2:0\n13|name|COMPLETED|0:0\n"
    assert last_job(sacct, job_id="12") == ("12", "FAILED", "2:0")
    assert last_job(sacct, name="name") == ("13", "COMPLETED", "0:0")
    assert last_job(sacct, name="nobody") is None  # `sacct -c` ignores --name: never take another job


def test_transient_or_rejected() -> None:
    assert is_transient("Batch job submission failed: Socket timed out on send/recv operation")
    assert is_transient("Batch job submission failed: Unable to contact slurm controller (connect failure)")
    assert not is_transient("Batch job submission failed: Invalid partition name specified")
    assert (
        slurm_message(
            "sbatch: error: invalid partition specified: x\n"
            "sbatch: error: Batch job submission failed: Invalid partition"
        )
        == "invalid partition specified: x; Batch job submission failed: Invalid partition"
    )


@pytest.mark.parametrize(
    ("lines", "key", "words"),
    [
        ('slurm = { partition = "x" }', "stages[0].slurm", 'only used with executor = "slurm"'),
        ('executor = "slurm"\n        slurm = { partitionn = "x" }', "stages[0].slurm.partitionn", "unknown key"),
        ('executor = "slurm"\n        slurm = { time = "1 hour" }', "stages[0].slurm.time", "Slurm time limit"),
        ('executor = "slurm"\n        slurm = { mem = "4 GB" }', "stages[0].slurm.mem", "Slurm memory size"),
        ('executor = "slurm"\n        slurm = { cpus_per_task = 0 }', "stages[0].slurm.cpus_per_task", ">= 1"),
        (
            'executor = "slurm"\n        slurm = { extra_args = ["--exclusive", "--output=x"] }',
            "stages[0].slurm.extra_args[1]",
            "--output is set by CooPy itself",
        ),
        ('executor = "slurm"\n        slurm = { extra_args = ["gpu"] }', "stages[0].slurm.extra_args[0]", "option"),
        ('executor = "slurm"\n        slurm = { extra_args = ["-a1-3"] }', "stages[0].slurm.extra_args[0]", "one"),
        ('executor = "pbs"', "stages[0].executor", "'local', 'slurm' or 'ray'"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, lines: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(slurm_config(tmp_path, lines))
    text = str(info.value)
    assert f"{key}:" in text and words.replace(">= 1", "greater than or equal to 1") in text, text


def test_slurm_stage_without_options_is_valid(tmp_path: Path) -> None:
    config = load_config(slurm_config(tmp_path, 'executor = "slurm"'))
    assert config.stages[0].executor == "slurm" and config.stages[0].slurm is None
