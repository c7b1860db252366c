"""The Snakemake tutorial's workflow (bwa mem -> samtools sort -> samtools index per sample, ONE bcftools
call over all samples, then a plot) as ONE `coopy run`: its outputs equal the sequential script's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import coopy, status

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "variant-calling"
TOOLS = ("bwa", "samtools", "bcftools")

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason=f"needs {', '.join(TOOLS)} (Debian: apt-get install {' '.join(TOOLS)}; .ci/run installs them)",
)


def prepared(directory: Path) -> Path:
    shutil.copytree(EXAMPLE, directory)
    subprocess.run(["python3", "make_data.py"], cwd=directory, check=True, capture_output=True, timeout=60)
    return directory


def records(vcf: Path) -> list[str]:
    return [line for line in vcf.read_text().splitlines() if not line.startswith("##")]


def test_one_coopy_run_gives_the_sequential_scripts_outputs(tmp_path: Path) -> None:
    piped = prepared(tmp_path / "coopy")
    script = prepared(tmp_path / "script")
    result = coopy("run", "coopy.toml", cwd=piped, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    subprocess.run(["bash", "run_sequential.sh"], cwd=script, check=True, capture_output=True, timeout=300)
    ours, theirs = records(piped / "calls" / "all.vcf"), records(script / "calls" / "all.vcf")
    assert ours == theirs
    assert len([r for r in ours if not r.startswith("#")]) == 20  # 8 shared SNPs + 4 of each sample's own
    assert (piped / "plots" / "quals.svg").read_bytes() == (script / "plots" / "quals.svg").read_bytes()
    runs = status(piped / "coopy.toml")["runs"]
    assert {(r["stage"], r["task"]) for r in runs if r["stage"] in ("bcftools_call", "plot_quals")} == {
        ("bcftools_call", "all"),
        ("plot_quals", "all"),
    }
    assert all(r["state"] == "done" and r["attempt"] == 1 for r in runs), runs
    assert len(runs) == 1 + 3 * 3 + 1 + 1


def test_a_failing_step_in_a_pipe_fails_the_run(tmp_path: Path) -> None:
    piped = prepared(tmp_path / "coopy")
    (piped / "data" / "samples" / "B.fastq").unlink()  # bwa mem fails; samtools view after it would not
    result = coopy("run", "coopy.toml", cwd=piped, timeout=300)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    runs = {(r["stage"], r["task"]): r for r in status(piped / "coopy.toml")["runs"]}
    assert runs[("bwa_map", "sample=B")]["state"] == "failed"
    assert runs[("samtools_sort", "sample=B")]["state"] == "blocked"
    assert runs[("bcftools_call", "all")]["state"] == "blocked"
    assert runs[("samtools_index", "sample=A")]["state"] == "done"
