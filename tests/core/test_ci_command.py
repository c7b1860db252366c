"""CI runs the README's test command, exactly: the line a person copies is the line CI checks with."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _readme_test_command() -> str:
    """The second command of the README's opening (the first runs the demo)."""
    blocks = re.findall(r"```bash\n(.*?)\n```", (REPO / "README.md").read_text(), re.S)
    return blocks[1].strip()


def test_ci_runs_the_readme_test_command() -> None:
    command = _readme_test_command()
    assert command.endswith("pytest -q")
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert command in lines


def test_the_test_command_checks_lint_format_types_and_layers_first() -> None:
    command = _readme_test_command()
    steps = [step.strip() for step in command.split("&&")]
    assert "pip install -q -e '.[test,ray,dev,gpu,notify]'" in steps  # gpu: nvidia-ml-py for tests/gpu; notify: apprise
    checks = ["ruff check .", "ruff format --check .", "mypy", "lint-imports"]
    assert [s for s in steps if s in checks] == checks
    assert steps.index("lint-imports") < steps.index("pytest -q")


def test_mypy_checks_both_packages() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert 'packages = ["coopy_core", "coopy_tui"]' in text
