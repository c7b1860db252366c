"""The README's tables of `coopy` verbs, rendered from the verb table (verbs.py), so they cannot drift from the
command line: tests/core/test_cli_readme.py checks that README.md holds exactly what these functions give."""

from __future__ import annotations

import argparse

from coopy_core.cli.verbs import ENGINE_VERBS, LOCAL_VERBS, Verb

HEADER = ["| command | what it does |", "|---|---|"]
VERSION_ROW = "| `coopy --version`, `coopy COMMAND --help` | the version; what a command does and every argument |"


def local_table() -> str:
    """The verbs that read or run a pipeline here (the README's *Headless use*)."""
    return "\n".join([*HEADER, *(_row(v) for v in LOCAL_VERBS), VERSION_ROW])


def engine_table() -> str:
    """The verbs that steer a running engine (the README's *The pipeline outlives the screen*)."""
    return "\n".join([*HEADER, *(_row(v) for v in ENGINE_VERBS)])


def usage(verb: Verb) -> str:
    """`coopy bump coopy.toml STAGE TASK [--by BY]`: the verb with its arguments, as its parser takes them."""
    parser = argparse.ArgumentParser(prog=f"coopy {verb.name}", add_help=False)
    verb.arguments(parser)
    words = ["coopy", verb.name]
    options = []
    for action in parser._actions:
        if not action.option_strings:
            name = "coopy.toml" if action.dest == "config" else _metavar(action)
            if action.nargs == "?":
                words.append(f"[{name}]")
            elif action.nargs == "*":
                words.append(f"[{name} ...]")
            else:
                words.append(name)
        else:
            flag = next((o for o in action.option_strings if o.startswith("--")), action.option_strings[0])
            options.append(f"[{flag}]" if action.nargs == 0 else f"[{flag} {_metavar(action)}]")
    return " ".join(words + options)


def _metavar(action: argparse.Action) -> str:
    if action.choices is not None:
        return "|".join(str(c) for c in action.choices)
    if isinstance(action.metavar, str):
        return action.metavar
    return action.dest.upper()


def _row(verb: Verb) -> str:
    text = verb.help + (f"; {verb.readme}" if verb.readme else "")
    return f"| `{_cell(usage(verb))}` | {_cell(text)} |"


def _cell(text: str) -> str:
    """A `|` inside a cell (in code too) would end it: Markdown tables take it escaped."""
    return text.replace("|", "\\|")
