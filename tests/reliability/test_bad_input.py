"""Bad input: the core bad-config table plus the cases this suite found, in-process through `load_config`
and through the real CLI; then a hypothesis fuzz of the loader. A config is either a Config or ONE line
naming the file (and the key): never a traceback, never anything written."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from coopy_core.config import Config, load_config
from coopy_core.errors import ConfigError
from coopy_core.wire.daemon import connect
from tests.helpers.bad_config_cases import CASES, GOOD_STAGE, MATRIX, Case, write_case
from tests.helpers.cli import coopy
from tests.helpers.waiting import wait_for

# What this suite found (each was a traceback or a second line before the fix), and a few more.
EXTRA = [
    Case(
        "shlex-unclosed-quote",
        MATRIX + '[[stages]]\nname = "s"\ncommand = "echo \'oops"\n',
        "stages[0].command",
        "No closing quotation",
    ),
    Case("shlex-hook", MATRIX + GOOD_STAGE + 'on_failed = "mail \'x"\n', "stages[0].on_failed", "No closing"),
    Case(
        "shlex-on-finished",
        '[pipeline]\non_finished = "echo \'x"\n' + MATRIX + GOOD_STAGE,
        "pipeline.on_finished",
        "No closing",
    ),
    Case(
        "integer-past-digit-limit",
        "[pipeline]\npoll_interval = " + "9" * 5000 + "\n" + MATRIX + GOOD_STAGE,
        None,
        "digits",
    ),
    Case(
        "nul-escape-in-path", '[pipeline]\nstate_dir = "a\\u0000b"\n' + MATRIX + GOOD_STAGE, "pipeline.state_dir", "NUL"
    ),
    Case(
        "nul-escape-in-argv",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["echo", "\\u0000"]\n',
        "stages[0].command[1]",
        "NUL",
    ),
    Case("nul-escape-in-key", MATRIX + GOOD_STAGE + 'env = { "A\\u0000" = "1" }\n', None, "NUL"),
    Case("newline-in-key", '[pipeline]\n"a\\nb" = 1\n' + MATRIX + GOOD_STAGE, "pipeline.a\\nb", "unknown"),
    Case(
        "line-separator-in-key", '[pipeline]\n"a\\u2028b" = 1\n' + MATRIX + GOOD_STAGE, "pipeline.a\\u2028b", "unknown"
    ),
    Case(
        "terminal-escape-in-key",
        '[tasks.named]\n"\\u001b[2J" = { x = 1 }\n' + GOOD_STAGE,
        "tasks.named.\\x1b[2J",
        "valid",
    ),
    Case("newline-in-env-key", MATRIX + GOOD_STAGE + 'env = { "a\\nb" = "{nope}" }\n', "stages[0].env.a\\nb", "{nope}"),
    # tomli's compiled parser (coopy.toml's since 2026-12-07) recurses per table level, as tomllib did not
    Case("tables-3000-deep", "[tasks.named." + ".".join(["a"] * 3000) + "]\n" + GOOD_STAGE, None, "deeply"),
    Case("tables-500-deep", "[tasks.named." + ".".join(["a"] * 500) + "]\n" + GOOD_STAGE, "tasks.named.a.a", "string"),
    Case("arrays-5000-deep", "[tasks.matrix]\nx = " + "[" * 5000 + "]" * 5000 + "\n" + GOOD_STAGE, None, "deeply"),
    Case("resource-nan", "[resources]\nmem = nan\n" + MATRIX + GOOD_STAGE, "resources.mem", "finite"),
    Case(
        "resource-inf",
        "[resources]\nmem = inf\n" + MATRIX + GOOD_STAGE + "resources = { mem = inf }\n",
        "resources.mem",
        "finite",
    ),
    Case(
        "resource-huge-int", "[resources]\nmem = " + "9" * 400 + "\n" + MATRIX + GOOD_STAGE, "resources.mem", "finite"
    ),
    Case(
        "stage-resource-huge-int",
        "[resources]\ngpus = [0]\n" + MATRIX + GOOD_STAGE + "resources = { gpus = " + "9" * 400 + " }\n",
        "stages[0].resources.gpus",
        "finite",
    ),
    Case(
        "priority-past-sqlite",
        MATRIX + GOOD_STAGE + "priority = " + "9" * 30 + "\n",
        "stages[0].priority",
        "less than or equal",
    ),
    Case(
        "matrix-key-with-path",
        '[tasks.matrix]\n"../../etc/x" = [1]\n' + GOOD_STAGE,
        "tasks.matrix.../../etc/x",
        "plain name",
    ),
    Case("matrix-key-with-slash", '[tasks.matrix]\n"a/b" = [1, 2]\n' + GOOD_STAGE, "tasks.matrix.a/b", "plain name"),
    Case(
        "named-task-traversal",
        '[tasks.named]\n"../../etc/x" = { x = 1 }\n' + GOOD_STAGE,
        "tasks.named.../../etc/x",
        "not a valid task name",
    ),
    Case(
        "named-task-absolute",
        '[tasks.named]\n"/etc/x" = { x = 1 }\n' + GOOD_STAGE,
        "tasks.named./etc/x",
        "not a valid task name",
    ),
    Case(
        "named-task-trailing-newline",
        '[tasks.named]\n"ok\\n" = { x = 1 }\n' + GOOD_STAGE,
        "tasks.named.ok\\n",
        "not a valid task name",
    ),
    Case("invalid-utf8", b"[pipeline]\nname = '\xff\xfe'\n", None, "UTF-8"),
    Case("utf16-file", "[pipeline]\nname = 'x'\n".encode("utf-16"), None, "UTF-8"),
    Case("empty-file", "", "stages", "missing"),
    Case("only-comments", "# nothing here\n", "stages", "missing"),
    Case(
        "top-level-array-of-tables-typo", MATRIX + "[[stage]]\nname = 's'\ncommand = ['true']\n", "stage", "unknown key"
    ),
    Case(
        "command-with-brace-conversion",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["{x!r}"]\n',
        "stages[0].command",
        "conversions",
    ),
    Case(
        "command-with-nested-spec",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["{x:{x}}"]\n',
        "stages[0].command",
        "nested",
    ),
    Case("timeout-nan", MATRIX + GOOD_STAGE + "timeout = nan\n", "stages[0].timeout"),
    Case("workers-past-limit", MATRIX + GOOD_STAGE + "workers = 1_000_000\n", "stages[0].workers", "less than"),
    Case("datetime-as-workers", MATRIX + GOOD_STAGE + "workers = 2024-01-01\n", "stages[0].workers", "whole number"),
]
TABLE = [*CASES, *EXTRA]
CLI_SAMPLE = (
    "toml-syntax",
    "binary-file",
    "workers-negative",
    "unknown-placeholder",
    "matrix-too-large",
    "shlex-unclosed-quote",
    "integer-past-digit-limit",
    "newline-in-key",
    "matrix-key-with-path",
    "named-task-traversal",
)


def _problems(case: Case, path: Path, text: str) -> list[str]:
    problems = []
    if len(text.splitlines()) != 1:
        problems.append(f"{case.id}: not one line: {text!r}")
    if str(path) not in text:
        problems.append(f"{case.id}: the file is not named: {text!r}")
    if case.key is not None and f": {case.key}: " not in text:
        problems.append(f"{case.id}: key {case.key!r} not named: {text!r}")
    if case.words and case.words not in text:
        problems.append(f"{case.id}: {case.words!r} not said: {text!r}")
    return problems


def _leftovers(directory: Path) -> list[str]:
    return sorted(
        p.name for p in directory.iterdir() if p.name not in ("coopy.toml", "broken_plugin_q9.py", "__pycache__")
    )


@contextlib.contextmanager
def _sys_path_kept() -> Iterator[None]:
    before = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = before  # load_config makes the config's folder importable for plug-ins


def test_bad_config_table_in_process_and_through_the_cli(tmp_path: Path, report: dict[str, Any]) -> None:
    assert len({c.id for c in TABLE}) == len(TABLE), "case ids are unique"
    problems: list[str] = []
    for case in TABLE:
        path = write_case(case, tmp_path / case.id)
        with _sys_path_kept():
            try:
                load_config(path)
            except ConfigError as exc:
                problems += _problems(case, path, str(exc))
            except BaseException as exc:  # noqa: BLE001 - the point: nothing else may escape
                problems.append(f"{case.id}: {type(exc).__name__} escaped: {exc!s:.200}")
            else:
                problems.append(f"{case.id}: accepted")
        if path.parent.is_dir() and _leftovers(path.parent):
            problems.append(f"{case.id}: something was written: {_leftovers(path.parent)}")
    assert problems == [], "\n".join(problems)

    by_id = {c.id: c for c in TABLE}
    cli = 0
    for case_id in CLI_SAMPLE:
        case = by_id[case_id]
        path = tmp_path / case.id / "coopy.toml"
        for command in ("validate", "run"):
            out = coopy(command, str(path), cwd=tmp_path, timeout=60)
            cli += 1
            assert out.returncode == 2, f"{case.id} / coopy {command}: exit {out.returncode}: {out.stderr}"
            assert out.stdout == "" and "Traceback" not in out.stderr
            assert _problems(case, path, out.stderr.removesuffix("\n")) == [], out.stderr
        assert not _leftovers(path.parent), f"{case.id}: something was written"
    assert not (tmp_path / ".coopy").exists()
    report.update({"bad inputs tried": len(TABLE), "from the core table": len(CASES), "through the CLI": cli})


def test_unreadable_config_is_a_clear_error(report: dict[str, Any]) -> None:
    """As root every file is readable: read it as `nobody` (with setpriv) to see the refusal."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to read as another user")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(  # from "/": run from the checkout, `python -c` would import it from there
        [*nobody, sys.executable, "-c", "import coopy_core"], capture_output=True, text=True, cwd="/"
    )
    if probe.returncode != 0:  # e.g. the venv lives in a folder only root may enter
        pytest.skip(f"CooPy cannot be imported as nobody here: {probe.stderr.strip()[-100:]}")
    directory = Path(tempfile.mkdtemp(prefix="coopy-unreadable-"))
    try:
        directory.chmod(0o755)
        path = directory / "coopy.toml"
        path.write_text(MATRIX + GOOD_STAGE)
        path.chmod(0o000)
        out = subprocess.run(
            [
                *nobody,
                sys.executable,
                "-m",
                "coopy_core.cli.main",
                "run",
                str(path),
            ],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and str(path) in out.stderr and "permission denied" in out.stderr
        assert sorted(p.name for p in directory.iterdir()) == ["coopy.toml"]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report.update({"bad inputs tried": 1, "message": "coopy: …/coopy.toml: " + out.stderr.strip().rsplit(": ", 1)[-1]})


# ------------------------------------------------------------------------------------------- the fuzz
WEIRD = st.characters(codec="utf-8", exclude_categories=("Cs",))  # controls, RTL, combining, emoji, \u2028, NUL
INTERESTING = st.sampled_from(
    [
        "",
        " ",
        "{task}",
        "{stage}",
        "{attempt}",
        "{x}",
        "{seed:03d}",
        "{seed:>{x}}",
        "{",
        "}",
        "{}",
        "{0}",
        "{x.y}",
        "{x[0]}",
        "{x!r}",
        "{x!}",
        "{{x}}",
        "{nope}",
        "a'b",
        'a"b',
        "'unclosed",
        "\\",
        "$(touch PWNED)",
        "; rm -rf ~",
        "../../etc/x",
        "/",
        "..",
        ".",
        "a/b",
        "~",
        "*",
        "\n",
        "\u2028",
        "\x1b[2J",
        "\x00",
        "\ufeff",
        "é",
        "日本",
        "x" * 300,
        "--array=1-3",
        "--partition=gpu",
        "1-00:00:00",
        "4G",
        "local",
        "slurm",
        "module:Class",
        "json:dumps",
        "no_such_module_q9:Det",
        ":",
        "a:b:c",
        "gpus",
        "mem_gb",
    ]
)
HUGE_INTS = st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**400, -(10**1000)])
SCALARS = st.one_of(
    st.integers(-3, 12),
    st.integers(),
    HUGE_INTS,
    st.booleans(),
    st.floats(),
    st.floats(-5, 5),
    st.text(WEIRD, max_size=12),
    INTERESTING,
    st.datetimes(),
    st.dates(),
    st.times(),
)
KEYS = st.one_of(
    st.sampled_from(["model", "seed", "x", "lr", "task", "stage", "attempt", "name", "a-b", "a b", "../k", "", "é"]),
    st.text(WEIRD, min_size=1, max_size=8),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8
)
GOOD_TEMPLATES = st.sampled_from(
    [
        "true",
        "echo",
        "{task}",
        "{stage}",
        "{attempt:03d}",
        "out/{task}.txt",
        "-c",
        "$(touch PWNED)",
        "a'b",
        "../../etc/x",
        "日本",
        "--x=1",
    ]
)
TEMPLATES = st.one_of(INTERESTING, GOOD_TEMPLATES, st.text(WEIRD, max_size=10))
# the right type, with what only the late checks catch (placeholders, quotes) mixed in
GOOD_COMMANDS = st.one_of(
    st.lists(GOOD_TEMPLATES | INTERESTING, min_size=1, max_size=4),
    (GOOD_TEMPLATES | INTERESTING).map(lambda t: f"echo {t}"),
)
COMMANDS = st.one_of(st.lists(TEMPLATES, max_size=4), TEMPLATES.map(lambda t: f"echo {t}"), TEMPLATES, VALUES)
GOOD_SCALARS = st.one_of(
    st.integers(-3, 12),
    st.booleans(),
    st.floats(-5, 5),
    st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=6),
)
PARAM_KEYS = st.sampled_from(["model", "seed", "x", "lr"])


def _either(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], odds: int = 10) -> Any:
    """Mostly a plausible value, one time in `odds` anything (a fuzz that only sends garbage never gets past
    the first check)."""
    return draw(bad if draw(st.integers(0, odds - 1)) == 1 else good)  # not 0: hypothesis favours it


# apprise URLs (`notify`): checked at load, never sent by the loader
NOTIFY = (
    st.sampled_from([[], "json://127.0.0.1:9/x", ["ntfys://t", "json://127.0.0.1:9/y"]]),
    st.sampled_from(["foo://x", "", ["mailto://"], " ", "://", "json://", ["json://h/p", 3]]) | TEMPLATES | VALUES,
)

# per key: (plausible, anything)
STAGE_KEYS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "workers": (st.integers(1, 8), st.integers(-2, 20) | HUGE_INTS | VALUES),
    "retries": (st.integers(0, 3), st.integers(-1, 200) | VALUES),
    "backoff": (st.floats(0, 10), st.floats() | VALUES),
    "timeout": (st.floats(0.1, 100), st.floats() | VALUES),
    "done_when": (st.lists(st.just("out/{task}.txt"), max_size=1), st.lists(TEMPLATES, max_size=2) | VALUES),
    "skip_if_done": (st.just(False), st.booleans() | VALUES),
    "priority": (st.integers(-5, 5), HUGE_INTS | VALUES),
    "shell": (st.booleans(), VALUES),
    "env": (
        st.dictionaries(st.sampled_from(["A", "SEED"]), GOOD_TEMPLATES, max_size=2),
        st.dictionaries(KEYS, TEMPLATES, max_size=2) | VALUES,
    ),
    "cwd": (st.just("."), TEMPLATES | VALUES),
    "executor": (st.just("local"), st.sampled_from(["slurm", "ray", "cloud"]) | VALUES),
    "resources": (
        st.just({"mem_gb": 1}),
        st.dictionaries(st.sampled_from(["gpus", "mem_gb", "cpus", "a b"]), SCALARS, max_size=2) | VALUES,
    ),
    "on_done": (GOOD_COMMANDS, COMMANDS),
    "on_failed": (GOOD_COMMANDS, COMMANDS),
    "slurm": (
        st.just({}),
        st.dictionaries(
            st.sampled_from(["partition", "time", "mem", "extra_args", "cpus_per_task", "qos"]), VALUES, max_size=3
        ),
    ),
    "ray": (
        st.just({}),
        st.dictionaries(
            st.sampled_from(["address", "num_cpus", "num_gpus", "resources", "runtime_env", "metadata"]),
            VALUES,
            max_size=3,
        ),
    ),
    # never a random module name: importing one could run anything
    "detector": (
        st.just("coopy_core.detector:ExitStatusDetector"),
        st.sampled_from(["json:Nope", "no_such_module_q9:Det", "JustAName", ":", "..x:Y", "json:dumps"]),
    ),
    "scripter": (st.just("coopy_core.scripter:Scripter"), st.sampled_from(["no_such_module_q9:S", "a:b:c", ""])),
    "notify": NOTIFY,
}
PIPELINE_KEYS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "name": (st.sampled_from(["demo", "p-1", "x.y"]), st.sampled_from(["a b", "", "x" * 201]) | TEMPLATES | VALUES),
    "poll_interval": (st.floats(0.1, 10), st.floats() | st.integers(-1, 5000) | VALUES),
    "state_dir": (st.sampled_from([".coopy", "state", "a/../b"]), TEMPLATES | VALUES),
    "log_dir": (st.sampled_from(["logs", "/tmp/coopy-fuzz-never-written"]), TEMPLATES | VALUES),
    "detector_timeout": (st.floats(0.1, 100), st.floats() | VALUES),
    "local_start": (st.sampled_from(["wrapper", "helper"]), st.sampled_from(["Helper", "sh", ""]) | VALUES),
    "on_finished": (st.just(["echo", "{pipeline}", "{state}"]), COMMANDS),
    "notify": NOTIFY,
}


@st.composite
def _table(draw: st.DrawFn, keys: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]]) -> Any:
    chosen = draw(st.lists(st.sampled_from(sorted(keys)), max_size=4, unique=True))
    out = {k: _either(draw, *keys[k]) for k in chosen}
    if draw(st.integers(0, 11)) == 1:
        out.update(draw(st.dictionaries(KEYS, VALUES, min_size=1, max_size=2)))  # unknown keys
    return out


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A TOML document: mostly the right shape, with wrong keys, values and types mixed in."""
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["pipeline"] = draw(_table(PIPELINE_KEYS))
    tasks: dict[str, Any] = {}
    if draw(st.integers(0, 4)) != 1:
        tasks["matrix"] = _either(
            draw,
            st.dictionaries(
                PARAM_KEYS, st.lists(GOOD_SCALARS, min_size=1, max_size=3, unique=True), min_size=1, max_size=3
            ),
            st.dictionaries(KEYS, st.lists(SCALARS, max_size=4), max_size=3) | VALUES,
        )
    if draw(st.integers(0, 2)) == 1:
        names = st.sampled_from(["base", "x=1", "ok.1", "a@b"])
        tasks["named"] = _either(
            draw,
            st.dictionaries(names, st.dictionaries(PARAM_KEYS, GOOD_SCALARS), max_size=2),
            st.dictionaries(
                st.sampled_from(["a b", "../../etc/x", "", "x" * 201]) | KEYS,
                st.dictionaries(KEYS, SCALARS, max_size=3) | VALUES,
                max_size=3,
            ),
        )
    if draw(st.integers(0, 4)) == 1:
        tasks["exclude"] = _either(
            draw,
            st.lists(st.dictionaries(PARAM_KEYS, GOOD_SCALARS, max_size=1), max_size=2),
            st.lists(st.dictionaries(KEYS, SCALARS, max_size=2), max_size=2) | VALUES,
        )
    if tasks:
        doc["tasks"] = tasks
    if draw(st.integers(0, 15)) != 1:
        count = draw(st.just(0) if draw(st.integers(0, 7)) == 1 else st.integers(1, 3))
        names = ["prepare", "train", "evaluate"]
        doc["stages"] = []
        for i in range(count):
            name = _either(draw, st.just(names[i]), st.sampled_from(["my stage", "", "train"]) | st.text(WEIRD))
            stage = {"name": name, "command": _either(draw, GOOD_COMMANDS, COMMANDS), **draw(_table(STAGE_KEYS))}
            if stage.get("skip_if_done") and not stage.get("done_when"):
                stage["done_when"] = ["out/{task}.txt"]
            doc["stages"].append(stage)
    if "mem_gb" in str(doc.get("stages")) or draw(st.integers(0, 7)) == 1:
        doc["resources"] = _either(
            draw,
            st.just({"mem_gb": 4}),
            st.dictionaries(st.sampled_from(["gpus", "mem_gb", "x y"]), VALUES, max_size=2) | VALUES,
        )
    if draw(st.integers(0, 11)) == 1:  # a whole section of the wrong type, or an unknown one
        doc[draw(st.sampled_from(["pipeline", "tasks", "stages", "resources"]) | KEYS)] = draw(VALUES)
    text = tomli_w.dumps(doc)
    cut = draw(st.integers(0, 15))
    if cut == 1:  # truncated mid-way
        text = text[: draw(st.integers(0, len(text)))]
    elif cut == 2:  # garbage spliced in
        at = draw(st.integers(0, len(text)))
        splice = draw(st.text(WEIRD, max_size=6) | st.sampled_from(["[", "]]", "=", '"', "\n[[stages]]\n"]))
        text = text[:at] + splice + text[at:]
    return text


def _deep(draw: st.DrawFn) -> str:
    n = draw(st.sampled_from([50, 500, 3000, 20000]))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return "[tasks.matrix]\nx = " + "[" * n + "1" + "]" * n + "\n"
    if kind == 1:
        return "a = " + "{ b = " * n + "1" + " }" * n + "\n"
    if kind == 2:
        return "[tasks.named." + ".".join(["x"] * n) + "]\n"
    return "[pipelin." + ".".join(["x"] * n) + "]\n" + MATRIX + GOOD_STAGE


@st.composite
def raw_files(draw: st.DrawFn) -> bytes:
    """Not-quite-TOML: random bytes, random text, deep nesting, numbers past every limit."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return draw(st.text(WEIRD, max_size=200)).encode("utf-8", "surrogatepass")
    if kind == 2:
        return _deep(draw).encode()
    if kind == 3:
        digits = draw(st.sampled_from([19, 20, 400, 4300, 4301, 10000]))
        key = draw(st.sampled_from(["[pipeline]\npoll_interval", "[resources]\nmem", "[tasks.matrix]\nx"]))
        number = draw(
            st.sampled_from(
                [
                    "9" * digits,
                    "-" + "9" * digits,
                    "1e" + "9" * min(digits, 50),
                    "0x" + "f" * 40,
                    "1" + "0" * digits + ".5",
                ]
            )
        )
        value = f"[{number}]" if key.endswith("x") else number
        return f"{key} = {value}\n{MATRIX if 'matrix' not in key else ''}{GOOD_STAGE}".encode()
    if kind == 4:  # a valid config with bytes flipped
        data = bytearray((MATRIX + GOOD_STAGE + "workers = 2\n").encode())
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    return draw(
        st.sampled_from(
            [
                b"",
                b"\xef\xbb\xbf",
                b"\xef\xbb\xbf" + (MATRIX + GOOD_STAGE).encode(),
                b"\r\n" * 50,
                b"[[stages]]\n" * 1000,
                b"\x00" * 10,
            ]
        )
    )


class LoaderFuzz:
    """Loads each example from a file in one folder; counts what came back."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "coopy.toml"
        self.counts = {"examples": 0, "accepted": 0, "refused": 0}

    def check(self, data: bytes) -> None:
        self.counts["examples"] += 1
        self.path.write_bytes(data)
        with _sys_path_kept():
            try:
                config = load_config(self.path)
            except ConfigError as exc:
                self.counts["refused"] += 1
                text = str(exc)
                assert len(text.splitlines()) == 1, f"not one line: {text!r}"
                assert text.startswith(f"{self.path}: "), f"the file is not named first: {text!r}"
            else:  # any other exception fails the test with its traceback: that is the finding
                self.counts["accepted"] += 1
                assert isinstance(config, Config)
                assert config.tasks and config.stages
        assert sorted(p.name for p in self.directory.iterdir()) == ["coopy.toml"], "the loader wrote something"


FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def test_fuzz_loader_structured_documents(tmp_path: Path, report: dict[str, Any]) -> None:
    fuzz = LoaderFuzz(tmp_path)

    @FUZZ
    @given(documents())
    def run(text: str) -> None:
        fuzz.check(text.encode())

    run()
    assert fuzz.counts["accepted"] >= 5, f"the generator should reach valid configs too: {fuzz.counts}"
    report.update(
        {
            "fuzz examples": fuzz.counts["examples"],
            "accepted": fuzz.counts["accepted"],
            "refused in one line": fuzz.counts["refused"],
            "other exceptions": 0,
        }
    )


def test_fuzz_loader_raw_bytes_and_deep_nesting(tmp_path: Path, report: dict[str, Any]) -> None:
    fuzz = LoaderFuzz(tmp_path)

    @settings(FUZZ, max_examples=200)
    @given(raw_files())
    def run(data: bytes) -> None:
        fuzz.check(data)

    run()
    report.update(
        {
            "fuzz examples": fuzz.counts["examples"],
            "accepted": fuzz.counts["accepted"],
            "refused in one line": fuzz.counts["refused"],
            "other exceptions": 0,
        }
    )


# ------------------------------------------------------------------------- bad values to a live engine
LIVE_CONFIG = """
[pipeline]
poll_interval = 0.5
[resources]
mem = 4
[tasks.matrix]
x = [1, 2]
[[stages]]
name = "s"
command = ["true"]
workers = 1
resources = { mem = 1 }
"""


def _live(cfg: Path) -> tuple[Any, list[tuple[str, str, int, int]]]:
    """What a command could change, as the running engine sees it: caps, pauses, pools, runs."""
    client = connect(load_config(cfg))
    try:
        snap = client.snapshot().as_json()
    finally:
        client.close()
    stages = [(s["name"], s["workers"], s["paused"]) for s in snap["stages"]]
    runs = sorted((r["task"], r["state"], r["priority"], r["attempt"]) for r in snap["runs"])
    return (stages, snap["pools"], len(snap["tasks"])), runs


# (argv after `coopy VERB CONFIG`, a word the refusal must say)
LIVE_BAD = [
    (["bump", "s", "x=2", "--by", str(10**30)], "out of range"),
    (["bump", "s", "x=2", "--by", "1.5"], "invalid int"),
    (["workers", "s", str(10**30)], "from 1 to"),
    (["workers", "s", "0"], "from 1 to"),
    (["workers", "s", "-3"], "from 1 to"),
    (["pool", "mem", "nan"], "an amount"),
    (["pool", "mem", "inf"], "an amount"),
    (["pool", "mem", "1e400"], "an amount"),
    (["pool", "mem", "-5"], "an amount"),
    (["pool", "nope", "1"], "no resource pool"),
    (["add", "../k=1"], "KEY=VALUE"),
    (["add", "x=3", "--name", "../../etc/x"], "not a valid task name"),
    (["add", "x=3", "--name", "x\n"], "not a valid task name"),
    (["add", "task=3"], "reserved"),
    (["add", "y=3"], "unknown placeholder"),
    (["retry", "s", "nope"], "no configuration"),
    (["cancel", "nope", "x=1"], "no stage"),
    (["top", "s", "x=1"], "only queued runs"),
]


def test_bad_values_to_a_running_engine_are_refused_and_change_nothing(tmp_path: Path, report: dict[str, Any]) -> None:
    cfg = tmp_path / "coopy.toml"
    gate = 'command = ["sh", "-c", "while [ ! -e go ]; do sleep 0.05; done; echo $0", "{x}"]'
    cfg.write_text(LIVE_CONFIG.replace('command = ["true"]', gate))  # x=1 runs until `go` exists, x=2 waits
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path, timeout=60).returncode == 0
    try:
        wait_for(lambda: _live(cfg)[1] == [("x=1", "running", 0, 1), ("x=2", "queued", 0, 0)], "x=1 running", 30)
        before = _live(cfg)
        for args, words in LIVE_BAD:
            out = coopy(args[0], str(cfg), *args[1:], cwd=tmp_path, timeout=60)
            what = f"coopy {' '.join(args)!r}"
            assert out.returncode == 2, f"{what}: exit {out.returncode}: {out.stdout} {out.stderr}"
            assert "Traceback" not in out.stderr and "closed the connection" not in out.stderr, f"{what}: {out.stderr}"
            assert words in out.stderr, f"{what}: {words!r} not said: {out.stderr!r}"
            if args[0] != "bump" or "--by" not in args or args[-1] != "1.5":  # argparse's own usage text
                assert out.stderr.count("\n") == 1, f"{what}: not one line: {out.stderr!r}"
        assert _live(cfg) == before, "a refused command changed something"
        (tmp_path / "go").touch()
        wait_for(lambda: [r[1] for r in _live(cfg)[1]] == ["done", "done"], "the pipeline to go on", 30)
    finally:
        coopy("stop", str(cfg), "--stop-running", cwd=tmp_path, timeout=60)
    log = (tmp_path / ".coopy" / "engine.log").read_text()
    assert "Traceback" not in log, log[-2000:]
    report.update({"bad inputs tried": len(LIVE_BAD), "engine tracebacks": 0})
