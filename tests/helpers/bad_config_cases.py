"""The bad-config table: malformed configs, each with the key path and the words its ONE-line refusal must name.

Used by tests/core/test_bad_config.py (through the real CLI) and tests/reliability/test_bad_input.py
(in-process and through the CLI, with the cases that suite found on top)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GOOD_STAGE = """
[[stages]]
name = "s"
command = ["echo", "{task}"]
"""
MATRIX = """
[tasks.matrix]
x = [1, 2]
"""


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes | None  # None: the config path does not exist; "DIR": it is a directory
    key: str | None  # the key path the message must name (None: a whole-file problem)
    words: str = ""  # a word the message must contain (what is wrong)


CASES = [
    Case("toml-syntax", "[pipeline\nname = 'x'\n" + MATRIX + GOOD_STAGE, None, "TOML syntax"),
    Case("toml-unclosed-string", 'command = "oops\n', None, "TOML syntax"),
    Case("toml-duplicate-key", "[tasks.named]\na = { x = 1 }\na = { x = 2 }\n" + GOOD_STAGE, None, "TOML syntax"),
    # TOML 1.1 (what tomli 2.4 reads) is not a coopy.toml: the grammar stays Python's tomllib's, TOML 1.0
    Case("toml-1.1-trailing-comma", MATRIX + GOOD_STAGE + "env = { A = '1', }\n", None, "TOML syntax"),
    Case("missing-file", None, None, "not found"),
    Case("directory", "DIR", None, "directory"),
    Case("binary-file", b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe\x00\x01", None, "binary"),
    Case("nul-bytes", "[pipeline]\x00\n", None, "NUL"),
    Case("unknown-top-level-key", "[pipelin]\nname = 'x'\n" + MATRIX + GOOD_STAGE, "pipelin", "unknown"),
    Case("unknown-pipeline-key", "[pipeline]\nnme = 'x'\n" + MATRIX + GOOD_STAGE, "pipeline.nme", "unknown"),
    Case("unknown-tasks-key", "[tasks.matrx]\nx = [1]\n" + GOOD_STAGE, "tasks.matrx", "unknown"),
    Case("unknown-stage-key", MATRIX + GOOD_STAGE + "worker = 2\n", "stages[0].worker", "unknown"),
    Case(
        "unknown-key-second-stage",
        MATRIX + GOOD_STAGE + GOOD_STAGE.replace('"s"', '"t"') + "retires = 1\n",
        "stages[1].retires",
        "unknown",
    ),
    Case("workers-string", MATRIX + GOOD_STAGE + 'workers = "3"\n', "stages[0].workers", "whole number"),
    Case("workers-bool", MATRIX + GOOD_STAGE + "workers = true\n", "stages[0].workers", "whole number"),
    Case("workers-float", MATRIX + GOOD_STAGE + "workers = 2.5\n", "stages[0].workers", "whole number"),
    Case("workers-zero", MATRIX + GOOD_STAGE + "workers = 0\n", "stages[0].workers", "greater than or equal to 1"),
    Case(
        "workers-negative",
        MATRIX + GOOD_STAGE + GOOD_STAGE.replace('"s"', '"t"') + "workers = -2\n",
        "stages[1].workers",
        "greater than or equal to 1",
    ),
    Case("retries-negative", MATRIX + GOOD_STAGE + "retries = -1\n", "stages[0].retries", "greater than or equal to 0"),
    Case("timeout-zero", MATRIX + GOOD_STAGE + "timeout = 0\n", "stages[0].timeout", "greater than 0"),
    Case("skip-if-done-string", MATRIX + GOOD_STAGE + 'skip_if_done = "yes"\n', "stages[0].skip_if_done", "true"),
    Case("shell-int", MATRIX + GOOD_STAGE + "shell = 1\n", "stages[0].shell", "true or false"),
    Case("poll-interval-string", '[pipeline]\npoll_interval = "2"\n' + MATRIX + GOOD_STAGE, "pipeline.poll_interval"),
    Case("poll-interval-negative", "[pipeline]\npoll_interval = -1\n" + MATRIX + GOOD_STAGE, "pipeline.poll_interval"),
    Case("command-int", MATRIX + '[[stages]]\nname = "s"\ncommand = 5\n', "stages[0].command"),
    Case("command-list-of-ints", MATRIX + '[[stages]]\nname = "s"\ncommand = ["echo", 5]\n', "stages[0].command[1]"),
    Case("command-empty", MATRIX + '[[stages]]\nname = "s"\ncommand = []\n', "stages[0].command", "empty"),
    Case("command-missing", MATRIX + '[[stages]]\nname = "s"\n', "stages[0].command", "missing"),
    Case("stage-name-missing", MATRIX + '[[stages]]\ncommand = ["true"]\n', "stages[0].name", "missing"),
    Case("stage-name-bad", MATRIX + GOOD_STAGE.replace('"s"', '"my stage"'), "stages[0].name", "not a valid name"),
    Case("no-stages", MATRIX, "stages", "missing"),
    Case("stages-empty-list", "stages = []\n" + MATRIX, "stages", "no stages"),
    Case("stages-as-table", MATRIX + '[stages]\nname = "s"\n', "stages", "list"),
    Case("duplicate-stage-names", MATRIX + GOOD_STAGE + GOOD_STAGE, "stages[1].name", "duplicate"),
    Case("duplicate-task-names", '[tasks.matrix]\nx = ["a b", "a-b"]\n' + GOOD_STAGE, "tasks.matrix", "name"),
    Case(
        "duplicate-named-and-matrix",
        '[tasks.named]\n"x=1" = { x = 1 }\n[tasks.matrix]\nx = [1]\n' + GOOD_STAGE,
        "tasks.matrix",
        "name",
    ),
    Case("no-tasks", GOOD_STAGE, "tasks", "no configurations"),
    Case("matrix-empty-list", "[tasks.matrix]\nx = []\n" + GOOD_STAGE, "tasks.matrix", "no values"),
    Case("matrix-value-table", "[tasks.matrix]\nx = [{ a = 1 }]\n" + GOOD_STAGE, "tasks.matrix.x[0]"),
    Case("named-task-bad-name", '[tasks.named]\n"a b" = { x = 1 }\n' + GOOD_STAGE, "tasks.named.a b", "valid"),
    Case(
        "unknown-placeholder",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["echo", "{modl}"]\n',
        "stages[0].command",
        "unknown placeholder",
    ),
    Case(
        "unknown-placeholder-in-string-command",
        MATRIX + GOOD_STAGE + '[[stages]]\nname = "t"\ncommand = "echo {x} {y}"\n',
        "stages[1].command",
        "{y}",
    ),
    Case(
        "unknown-placeholder-done-when",
        MATRIX + GOOD_STAGE + 'done_when = ["out/{nope}.txt"]\n',
        "stages[0].done_when",
        "{nope}",
    ),
    Case(
        "unknown-placeholder-env",
        MATRIX + GOOD_STAGE + 'env = { SEED = "{seed}" }\n',
        "stages[0].env.SEED",
        "{seed}",
    ),
    Case("unknown-placeholder-cwd", MATRIX + GOOD_STAGE + 'cwd = "runs/{id}"\n', "stages[0].cwd", "{id}"),
    Case(
        "unknown-placeholder-metrics",
        MATRIX + GOOD_STAGE + 'metrics = "out/{run}/metrics.json"\n',
        "stages[0].metrics",
        "{run}",
    ),
    Case("metrics-not-a-string", MATRIX + GOOD_STAGE + "metrics = 3\n", "stages[0].metrics", "a string"),
    Case(
        "bad-braces-open",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["echo", "{task"]\n',
        "stages[0].command",
        "braces",
    ),
    Case(
        "bad-braces-close",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["echo", "task}"]\n',
        "stages[0].command",
        "braces",
    ),
    Case(
        "placeholder-attribute",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["echo", "{task.__class__}"]\n',
        "stages[0].command",
        "plain name",
    ),
    Case(
        "placeholder-index",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["echo", "{x[0]}"]\n',
        "stages[0].command",
        "plain name",
    ),
    Case(
        "skip-if-done-without-done-when",
        MATRIX + GOOD_STAGE + "skip_if_done = true\n",
        "stages[0].skip_if_done",
        "done_when",
    ),
    Case("detector-no-module", MATRIX + GOOD_STAGE + 'detector = "no_such_module_q9:Det"\n', "stages[0].detector"),
    Case("scripter-not-a-ref", MATRIX + GOOD_STAGE + 'scripter = "JustAName"\n', "stages[0].scripter", "module:Class"),
    Case("detector-no-class", MATRIX + GOOD_STAGE + 'detector = "json:Nope"\n', "stages[0].detector", "no class"),
    Case("detector-not-a-class", MATRIX + GOOD_STAGE + 'detector = "json:dumps"\n', "stages[0].detector", "no class"),
    Case(
        "detector-module-raises",
        MATRIX + GOOD_STAGE + 'detector = "broken_plugin_q9:Det"\n',
        "stages[0].detector",
        "cannot import",
    ),
    Case("executor-unknown", MATRIX + GOOD_STAGE + 'executor = "cloud"\n', "stages[0].executor"),
    Case(
        "exclude-non-matrix-key",
        MATRIX + "[[tasks.exclude]]\nseed = 1\n" + GOOD_STAGE,
        "tasks.exclude[0].seed",
        "not a matrix parameter",
    ),
    Case(
        "matrix-too-large",
        "[tasks.matrix]\n"
        + "\n".join(f"p{i} = [{', '.join(str(v) for v in range(10))}]" for i in range(9))
        + "\n"
        + GOOD_STAGE,
        "tasks.matrix",
        "memory",
    ),
    Case("matrix-names-clash", "[tasks.matrix]\nx = ['a b', 'a-b']\n" + GOOD_STAGE, "tasks.matrix", "x=a-b"),
    Case(
        "matrix-named-clash",
        '[tasks.named."x=1"]\nx = 9\n[tasks.matrix]\nx = [1]\n' + GOOD_STAGE,
        "tasks.matrix",
        "named.x=1",
    ),
    Case(
        "matrix-name-too-long",
        "[tasks.matrix]\nx = ['short', '" + "v" * 199 + "']\n" + GOOD_STAGE,
        "tasks.matrix",
        "at most 200",
    ),
    Case("reserved-param-matrix", "[tasks.matrix]\ntask = [1, 2]\n" + GOOD_STAGE, "tasks.matrix.task", "reserved"),
    Case(
        "reserved-param-named",
        "[tasks.named]\none = { attempt = 3 }\ntwo = { y = 1 }\n" + GOOD_STAGE,
        "tasks.named.one.attempt",
        "reserved",
    ),
    # the graph (issue 11): needs, over, inputs
    Case("needs-unknown", MATRIX + GOOD_STAGE + 'needs = ["nope"]\n', "stages[0].needs", "no stage named 'nope'"),
    Case("needs-self", MATRIX + GOOD_STAGE + 'needs = ["s"]\n', "stages[0].needs", "cannot need itself"),
    Case(
        "needs-twice",
        MATRIX + GOOD_STAGE + GOOD_STAGE.replace('"s"', '"t"') + 'needs = ["s", "s"]\n',
        "stages[1].needs",
        "listed twice",
    ),
    Case(
        "needs-cycle",
        MATRIX
        + GOOD_STAGE
        + 'needs = ["u"]\n'
        + GOOD_STAGE.replace('"s"', '"t"')
        + 'needs = ["s"]\n'
        + GOOD_STAGE.replace('"s"', '"u"')
        + 'needs = ["t"]\n',
        "stages[0].needs",
        "cycle: s -> u -> t -> s",
    ),
    Case("needs-string", MATRIX + GOOD_STAGE + 'needs = "s"\n', "stages[0].needs", "a list"),
    Case("over-unknown", MATRIX + GOOD_STAGE + 'over = ["y"]\n', "stages[0].over", "'y' is not a parameter"),
    Case("over-twice", MATRIX + GOOD_STAGE + 'over = ["x", "x"]\n', "stages[0].over", "listed twice"),
    Case(
        "over-not-everywhere",
        MATRIX + "[tasks.named]\nlone = { z = 1 }\n" + GOOD_STAGE + 'over = ["x"]\n',
        "stages[0].over",
        "missing in 'lone'",
    ),
    Case(
        "placeholder-not-over",
        "[tasks.matrix]\nx = [1]\ny = [2]\n" + '[[stages]]\nname = "s"\ncommand = ["echo", "{y}"]\nover = ["x"]\n',
        "stages[0].command",
        "not over (over: x)",
    ),
    Case(
        "inputs-placeholder-without-inputs",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["cat", "{inputs}"]\n',
        "stages[0].command",
        "it has none",
    ),
    Case(
        "inputs-inside-an-argument",
        MATRIX + '[[stages]]\nname = "s"\ncommand = ["cat", "--in={inputs}"]\ninputs = ["f{x}"]\n',
        "stages[0].command",
        "an argument of its own",
    ),
    Case(
        "inputs-unknown-placeholder",
        MATRIX + GOOD_STAGE + 'inputs = ["out/{nope}.txt"]\n',
        "stages[0].inputs[0]",
        "unknown placeholder {nope}",
    ),
    Case(
        "inputs-param-clash",
        "[tasks.matrix]\ninputs = [1]\n" + GOOD_STAGE + 'inputs = ["f"]\n',
        "stages[0].inputs",
        "would hide",
    ),
    Case("allow-failed-string", MATRIX + GOOD_STAGE + 'allow_failed = "yes"\n', "stages[0].allow_failed", "true"),
]

BROKEN_PLUGIN = 'raise RuntimeError("plugin failed to load:\\n  a second line\\n  and a third")\n'


def write_case(case: Case, directory: Path) -> Path:
    """The case's config at `<directory>/coopy.toml` (and a plug-in that fails to import, next to it)."""
    directory.mkdir()
    (directory / "broken_plugin_q9.py").write_text(BROKEN_PLUGIN)
    path = directory / "coopy.toml"
    if case.text is None:
        return path
    if case.text == "DIR":
        path.mkdir()
        return path
    if isinstance(case.text, bytes):
        path.write_bytes(case.text)
    else:
        path.write_text(case.text)
    return path
