"""Placeholders such as `{task}` or `{seed:03d}` in commands, paths and env values.

Only plain names are allowed (no `{a.b}` or `{a[0]}`): format strings must not
reach into Python objects.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Iterable, Mapping

BUILTIN_PLACEHOLDERS = ("task", "stage", "attempt")

_formatter = string.Formatter()


class TemplateError(ValueError):
    pass


def placeholders(template: str) -> list[str]:
    """Names used by `template`; raises TemplateError on malformed braces or non-plain fields."""
    names: list[str] = []
    try:
        parsed = list(_formatter.parse(template))
    except ValueError as exc:
        hint = "write {{ and }} for literal braces"
        raise TemplateError(f"bad braces in {template!r}: {exc} ({hint})") from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise TemplateError(f"placeholder {{{field}}} in {template!r} must be a plain name")
        if conversion:
            raise TemplateError(f"placeholder {{{field}!{conversion}}} in {template!r}: conversions are not supported")
        if spec and "{" in spec:
            raise TemplateError(f"placeholder {{{field}:{spec}}} in {template!r}: nested placeholders are not allowed")
        names.append(field)
    return names


def check(template: str, known: Iterable[str]) -> None:
    known_set = set(known)
    for name in placeholders(template):
        if name not in known_set:
            choices = ", ".join(sorted(known_set))
            raise TemplateError(f"unknown placeholder {{{name}}} in {template!r} (known: {choices})")


def render(
    template: str, values: Mapping[str, object], quote: bool = False, raw: frozenset[str] | set[str] = frozenset()
) -> str:
    """Substitute values; with `quote`, each filled value is shell-quoted (for `shell = true`), except
    those named in `raw` (quoted already, like `{inputs}`: one quoted word per path)."""
    out: list[str] = []
    for literal, field, spec, _conversion in _formatter.parse(template):
        out.append(literal)
        if field is None:
            continue
        if field not in values:
            raise TemplateError(f"unknown placeholder {{{field}}} in {template!r}")
        value = values[field]
        try:
            text = format(value, spec) if spec else _formatted(value)
        except (ValueError, TypeError) as exc:
            raise TemplateError(f"cannot format {{{field}:{spec}}} with {value!r}: {exc}") from exc
        out.append(shlex.quote(text) if quote and field not in raw else text)
    return "".join(out)


def _formatted(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
