"""Parameter values are data, never code: each reaches the command as ONE argv item,
unchanged, and no shell ever interprets it; with `shell = true` values are shlex-quoted."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from coopy_core import RunState, templates
from tests.helpers.engine import EngineFactory, run_of, wait_finished, write_config

NASTY = {
    "semicolon": "x; touch PWNED",
    "subst": "$(touch PWNED)",
    "backticks": "`touch PWNED`",
    "quotes": """a b 'c d' "e f" \\ g""",
    "glob": "*",
    "var": "$HOME ${PATH}",
    "dash": "-rf",
    "pipe": "| touch PWNED && touch PWNED || touch PWNED > PWNED",
    "newline": "one\ntouch PWNED\n",
    "empty": "",
    "braces": "{task}",
    "unicode": "naïve ✓ \t tab",
}

# prints its argv (after the script path) as JSON into the file named by its first argument
DUMP = "import json, sys\nopen(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))\n"


def _config(tmp: Path) -> Path:
    (tmp / "dump.py").write_text(DUMP)
    (tmp / "out").mkdir()
    named = "\n".join(f"{name} = {{ v = {json.dumps(value)} }}" for name, value in NASTY.items())
    py = json.dumps(sys.executable)
    py_shell = shlex.quote(sys.executable)
    return write_config(
        tmp,
        f"""
        [pipeline]
        poll_interval = 30

        [tasks.named]
        {named}

        [[stages]]
        name = "argv"
        workers = 4
        env = {{ V = "{{v}}" }}
        command = [{py}, "dump.py", "out/{{task}}.argv", "{{v}}", "pre-{{v}}-post", "{{task}}"]

        [[stages]]
        name = "split"
        workers = 4
        command = "{py_shell} dump.py out/{{task}}.split {{v}} 'pre {{v}}'"

        [[stages]]
        name = "shell"
        workers = 4
        shell = true
        command = "{py_shell} dump.py out/{{task}}.shell {{v}} pre-{{v}}-post && printf %s \\"$V\\" > out/{{task}}.env"
        env = {{ V = "{{v}}" }}
        """,
    )


async def test_values_are_one_argument_and_never_executed(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await start_engine(_config(tmp_path))
    assert await wait_finished(engine), [r.reason for r in engine.snapshot().runs if r.reason]
    for name, value in NASTY.items():
        out = tmp_path / "out"
        assert json.loads((out / f"{name}.argv").read_text()) == [value, f"pre-{value}-post", name]
        assert json.loads((out / f"{name}.split").read_text()) == [value, f"pre {value}"]
        assert json.loads((out / f"{name}.shell").read_text()) == [value, f"pre-{value}-post"]
        assert (out / f"{name}.env").read_text() == value  # env values arrive verbatim too
        run = run_of(engine, name, "shell")
        assert run is not None and run.state == RunState.DONE
    assert not list(tmp_path.rglob("PWNED")), "a value was executed"


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30))
def test_shell_quoting_round_trips(value: str) -> None:
    """What `shell = true` renders, a real /bin/sh hands back as the exact value."""
    script = templates.render("printf '%s' {v}", {"v": value}, quote=True)
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True)
    assert result.returncode == 0
    assert result.stdout == value.encode()
    assert shlex.split(templates.render("x {v}", {"v": value}, quote=True)) == ["x", value]


async def test_shell_pipes_fail_when_any_command_in_them_fails(tmp_path: Path, start_engine: EngineFactory) -> None:
    """`shell = true` runs bash with pipefail: `false | cat` fails (with plain sh it would pass)."""
    config = write_config(
        tmp_path,
        """
        [tasks.named]
        piped = { v = 1 }
        [[stages]]
        name = "pipe"
        shell = true
        command = "false | cat; echo still here"
        [[stages]]
        name = "failing_pipe"
        needs = []
        shell = true
        command = "echo {v} | false | cat"
        """,
    )
    engine = await start_engine(config)
    assert await wait_finished(engine) is False
    assert run_of(engine, "piped", "pipe").state.value == "done"  # type: ignore[union-attr]
    failed = run_of(engine, "piped", "failing_pipe")
    assert failed is not None and failed.state.value == "failed" and failed.exit_code == 1
