"""The Ray executor's pure parts and its config checks, without a cluster: the entrypoint a shell runs, ids,
exit codes, Ray's messages, and the one-line refusals of a bad `ray = {...}` table (exit 2, nothing written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from coopy_core.executors.ray_job import entrypoint, exit_code, first_sentence, ray_error, submission_id
from tests.helpers.engine import write_config

AWKWARD = ["it's", 'a "test"', "$HOME", "*", "`id`", "$(touch PWNED)", "a\nb", "", "-n", "; rm -rf ~", "${X}"]
PRINT_ARGV = [
    sys.executable,
    "-c",
    "import json, os, sys; print(json.dumps([sys.argv[1:], os.getcwd(), os.environ['V']]))",
]


def run_entrypoint(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run it as Ray does: `subprocess.Popen(entrypoint, shell=True)`."""
    return subprocess.run(command, shell=True, capture_output=True, text=True, cwd="/", timeout=30)  # noqa: S602


def test_entrypoint_gives_the_command_exactly_its_argv_env_and_cwd(tmp_path: Path) -> None:
    folder = tmp_path / "it's a dir $HOME"
    folder.mkdir()
    command = entrypoint([*PRINT_ARGV, *AWKWARD], folder, {"V": "$HOME ${X} `id` '", "BAD NAME": "x"})
    result = run_entrypoint(command, tmp_path)
    assert result.returncode == 0, result.stderr
    argv, cwd, value = json.loads(result.stdout)
    assert argv == AWKWARD
    assert cwd == str(folder)
    assert value == "$HOME ${X} `id` '"
    assert not (Path("/") / "PWNED").exists() and not (tmp_path / "PWNED").exists()


def test_entrypoint_of_a_stopped_attempt_runs_nothing(tmp_path: Path) -> None:
    stop = tmp_path / "t.1.ray.stop"
    marker = tmp_path / "ran"
    command = entrypoint(["sh", "-c", 'echo ran > "$0"', str(marker)], tmp_path, {}, stop)
    assert run_entrypoint(command, tmp_path).returncode == 0 and marker.exists()
    marker.unlink()
    stop.touch()
    result = run_entrypoint(command, tmp_path)
    assert result.returncode == 125 and "stopped before Ray started it" in result.stderr
    assert not marker.exists()


def test_submission_ids_are_safe_and_per_attempt() -> None:
    run_id = "/tmp/x y/.coopy:train/model=a,seed=1/2"
    one, two = submission_id(run_id, "0a1b2c3d"), submission_id(run_id, "ffffffff")
    assert one.startswith("coopy-") and one != two and one.rsplit("-", 1)[0] == two.rsplit("-", 1)[0]
    assert all(c.isalnum() or c == "-" for c in one)
    assert submission_id(run_id.replace("/2", "/3"), "0a1b2c3d") != one


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        ("SUCCEEDED", 0, "", 0),
        ("SUCCEEDED", None, "", 0),
        ("FAILED", 3, "Job entrypoint command failed with exit code 3", 3),
        ("FAILED", None, "Job entrypoint command failed with exit code 4, last available logs", 4),
        ("FAILED", -9, "", 137),
        ("FAILED", None, "Job supervisor actor failed to start within 900.0 seconds.", None),
        ("STOPPED", None, "Job was intentionally stopped.", None),
        ("RUNNING", None, "", None),
    ],
)
def test_exit_codes(status: str, code: int | None, message: str, expected: int | None) -> None:
    job = SimpleNamespace(status=SimpleNamespace(value=status), driver_exit_code=code, message=message)
    assert exit_code(job) == expected


def test_rays_messages_in_one_line() -> None:
    wrapped = RuntimeError(
        'Request failed with status code 500: Traceback (most recent call last):\n  File "x.py", line 1\n'
        "RuntimeError: Request failed with status code 400: Traceback (most recent call last):\n"
        "ValueError: Job with submission_id x already exists. Please use a different submission_id.\n.\n."
    )
    assert ray_error(wrapped) == "Job with submission_id x already exists. Please use a different submission_id."
    assert first_sentence("Job entrypoint command failed with exit code 3, last available logs (truncated):\nboom") == (
        "Job entrypoint command failed with exit code 3"
    )
    assert first_sentence(None) == ""


# ------------------------------------------------------------------ config
def ray_stage(table: str, executor: str = "ray") -> str:
    return f"""
        [tasks.named]
        t = {{ x = 1 }}

        [[stages]]
        name = "train"
        executor = "{executor}"
        command = ["true"]
        {table}
        """


def validate(
    path: Path, env: dict[str, str] | None = None, block_ray: bool = False
) -> subprocess.CompletedProcess[str]:
    """`coopy validate` in a fresh interpreter (with `block_ray`: one where Ray cannot be imported)."""
    code = "import sys\nfrom coopy_core.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    if block_ray:
        code = (
            "import sys\n"
            "class NoRay:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'ray':\n"
            "            raise ModuleNotFoundError(name)\n"
            "sys.meta_path.insert(0, NoRay())\n" + code
        )
    return subprocess.run(
        [sys.executable, "-c", code, "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
        env=env if env is not None else dict(os.environ, RAY_ADDRESS="http://127.0.0.1:1"),
    )


@pytest.mark.parametrize(
    ("table", "executor", "key", "words"),
    [
        ("ray = { num_cpus = 1 }", "local", "stages[0].ray", 'only used with executor = "ray"'),
        ("ray = { num_cpus = -1 }", "ray", "stages[0].ray.num_cpus", "greater than or equal to 0"),
        ("ray = { resources = { CPU = 2 } }", "ray", "stages[0].ray.resources.CPU", "use num_cpus"),
        ('ray = { resources = { special = "x" } }', "ray", "stages[0].ray.resources.special", "number"),
        ('ray = { runtime_env = { pip = ["torch"] } }', "ray", "stages[0].ray.runtime_env.pip", "unknown key"),
        (
            'ray = { runtime_env = { working_dir = "s3://b/x.zip" } }',
            "ray",
            "stages[0].ray.runtime_env.working_dir",
            "local folder",
        ),
        (
            'ray = { runtime_env = { working_dir = "nope" } }',
            "ray",
            "stages[0].ray.runtime_env.working_dir",
            "no such folder",
        ),
        ('ray = { adress = "x" }', "ray", "stages[0].ray.adress", "unknown key"),
        ("ray = { metadata = { a = 1 } }", "ray", "stages[0].ray.metadata.a", "a string"),
    ],
)
@pytest.mark.usefixtures("ray_installed")
def test_bad_ray_tables_are_refused_in_one_line(
    tmp_path: Path, table: str, executor: str, key: str, words: str
) -> None:
    path = write_config(tmp_path, ray_stage(table, executor))
    result = validate(path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f": {key}: " in lines[0] and words in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coopy.toml"]


@pytest.mark.usefixtures("ray_installed")
def test_no_cluster_address_says_how_to_start_one(tmp_path: Path) -> None:
    path = write_config(tmp_path, ray_stage(""))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = validate(path, env)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "stages[0].ray.address" in line and "ray start --head" in line and "RAY_ADDRESS" in line, line
    # given in the file (or the environment), it is fine
    path.write_text(path.read_text().replace('command = ["true"]', 'command = ["true"]\nray = { address = "x:1" }'))
    assert validate(path, env).returncode == 0


def test_ray_not_installed_is_a_config_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, ray_stage(""))
    result = validate(path, block_ray=True)
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "stages[0].executor" in line and "pip install 'coopy[ray]'" in line, line
    # a pipeline without a Ray stage does not care
    path.write_text(path.read_text().replace('executor = "ray"', 'executor = "local"'))
    assert validate(path, block_ray=True).returncode == 0


@pytest.mark.usefixtures("ray_installed")
def test_loading_a_ray_config_does_not_import_ray(tmp_path: Path) -> None:
    """The config check finds Ray without importing it: `coopy status` of a Ray pipeline stays light."""
    path = write_config(tmp_path, ray_stage("ray = { resources = { special = 1 } }"))
    code = (
        "import sys\nfrom coopy_core import load_config\nfrom coopy_core.executors import make_executor\n"
        f"config = load_config({str(path)!r})\nmake_executor('ray', config)\n"
        "sys.exit(1 if any(m.split('.')[0] == 'ray' for m in sys.modules) else 0)\n"
    )
    env = dict(os.environ, RAY_ADDRESS="http://127.0.0.1:1")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
