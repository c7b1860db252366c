"""How a run's name is shown in a list: the params that vary, the ones every configuration shares said once.

A sweep's names share long prefixes (`dataset=cifar10-augmented-large,model=resnet50,lr=0.01,seed=3`); a
list that cuts such names anywhere shows different runs as the same row. So a list shows, widest first:
the varying params as `key=value` pairs (`model=resnet50,lr=0.01,seed=3`); when those do not fit, their
values aligned under a header naming the keys (`resnet50  0.01  3`); when even those do not fit, each
value cut in turn, the widest first, so every value keeps a part. The constants go in the stage's header.
A name that is not all `key=value` (a named configuration, a fan-in's `all`) is shown as it is.

Worked out once per set of configurations (O(configurations)), never per row: a row only splits its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from coopy_tui.format import cut, middle_truncate

GAP = 2  # cells between aligned values
# A file path in a text (`/tmp/x/train/dataset=a,model=b.1.log`, `logs/train/...`): a word that starts with
# `/`, `~/`, `./` or `../`, or has two slashes with no `=` between them (`train/data=a/b,lr=1` is a run whose
# value has a slash). Its params are part of the file's name: never left out.
_PATH = r"""(?:^|(?<=[\s'"(\[]))(?:[~.]{0,2}/\S*|[^\s/]*/[^\s/=]*/\S*)"""


def pairs(name: str) -> list[tuple[str, str]] | None:
    """`model=cnn,seed=1` -> [("model", "cnn"), ("seed", "1")]; None when a part is not `key=value`."""
    out = []
    for part in name.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key:
            return None
        out.append((key, value))
    return out


@dataclass(frozen=True)
class Names:
    """What the configurations' names share (`constants`) and how wide the params that differ are."""

    constants: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()  # the params that differ, in the order names list them
    widths: tuple[int, ...] = ()  # the longest value of each
    longest: int = 8  # the longest whole name (wide mode)
    plain: int = 0  # the longest name that is not all `key=value`

    @classmethod
    def of(cls, names: Iterable[str]) -> Names:
        seen: dict[str, set[str]] = {}  # key -> its values (insertion order: the names' order)
        counts: dict[str, int] = {}
        parsed = 0
        longest, plain = 8, 0
        for name in names:
            longest = max(longest, len(name))
            split = pairs(name)
            if split is None:
                plain = max(plain, len(name))
                continue
            parsed += 1
            for key, value in split:
                seen.setdefault(key, set()).add(value)
                counts[key] = counts.get(key, 0) + 1
        constants: list[tuple[str, str]] = []
        keys: list[str] = []
        widths: list[int] = []
        for key, values in seen.items():
            if parsed > 1 and len(values) == 1 and counts[key] == parsed:
                constants.append((key, next(iter(values))))
            else:
                keys.append(key)
                widths.append(max(len(v) for v in values))
        return cls(tuple(constants), tuple(keys), tuple(widths), longest, plain)

    def for_stage(self, over: Sequence[str] | None) -> Names:
        """The part a stage's runs show: a stage over some params names its runs by those only."""
        if over is None:
            return self
        kept = [(k, w) for k, w in zip(self.keys, self.widths, strict=True) if k in over]
        return Names(
            tuple(c for c in self.constants if c[0] in over),
            tuple(k for k, _ in kept),
            tuple(w for _, w in kept),
            self.longest,
            self.plain,
        )

    # ------------------------------------------------------------------ widths a list can give the name
    @property
    def pairs_width(self) -> int:
        """Cells for the widest `key=value,...` of the params that differ (an upper bound)."""
        shown = sum(len(k) + 1 + w for k, w in zip(self.keys, self.widths, strict=True)) + max(0, len(self.keys) - 1)
        return max(shown, self.plain, 4)

    def _columns(self) -> list[int]:
        return [max(len(k), w) for k, w in zip(self.keys, self.widths, strict=True)]

    @property
    def values_width(self) -> int:
        """Cells for the aligned values (each as wide as its key or its longest value)."""
        return sum(self._columns()) + GAP * max(0, len(self.keys) - 1)

    @property
    def aligned(self) -> bool:
        """Whether values can stand under a header of keys (some param differs)."""
        return bool(self.keys)

    def wants(self) -> tuple[int, ...]:
        """The widths the name reads well at, widest first."""
        if self.aligned and self.values_width < self.pairs_width:
            return (self.pairs_width, self.values_width)
        return (self.pairs_width,)

    # ------------------------------------------------------------------ the text
    def short(self, name: str) -> str:
        """The name without the params every configuration shares (the whole name if nothing else is left)."""
        split = pairs(name)
        if split is None or not self.constants:
            return name
        constant = self._known[1]
        kept = [f"{k}={v}" for k, v in split if (k, v) not in constant]
        return ",".join(kept) if kept else name

    def in_text(self, text: str) -> str:
        """`text` (a reason, a notice: `waits on train/dataset=cifar10-augmented-large,model=vit,lr=0.1`) with
        the params every configuration shares left out of the run names in it, so a cut keeps what differs.
        A file path in it is left whole: a log's path without a param names a file that does not exist."""
        pattern = self._shared_pattern
        if pattern is None or "=" not in text:
            return text
        return pattern.sub(_keep_paths, text)

    @cached_property
    def _shared_pattern(self) -> re.Pattern[str] | None:
        if not self.constants:
            return None
        shared = "|".join(re.escape(f"{k}={v}") for k, v in self.constants)
        # a path (kept: group 1); a shared pair at a name's start or middle (before a comma), or at its end
        # (after one). The path is tried first at each place, and a path starts its word: it wins over a
        # pair inside it.
        pair = rf"(?:(?<=[\s/(,])|^)(?:{shared}),(?=[^\s,=]+=)|,(?:{shared})(?=[\s,:;)]|$)"
        return re.compile(rf"({_PATH})|{pair}")

    @cached_property
    def _known(self) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        return frozenset(self.keys), frozenset(self.constants)

    @lru_cache(maxsize=8)  # noqa: B019 (a few Names live at a time; each list asks at one or two widths)
    def fitted(self, width: int) -> tuple[int, ...]:
        """Each value column's width in `width` cells: a key wider than its values gives up cells first
        (its header is cut, no value is), then the widest column, one cell at a time."""
        columns = self._columns()
        room = width - GAP * max(0, len(columns) - 1)
        while sum(columns) > room:
            excess = [c - w for c, w in zip(columns, self.widths, strict=True)]
            if max(excess) > 0:
                columns[excess.index(max(excess))] -= 1
            elif max(columns) > 1:
                columns[columns.index(max(columns))] -= 1
            else:
                break
        return tuple(columns)

    def values(self, name: str, width: int) -> str:
        """The name's values aligned in columns of `fitted(width)`; a name not of these keys as it is."""
        split = pairs(name)
        if split is None:
            return cut(name, width)
        by_key = dict(split)
        keys, constant = self._known
        if any(k not in keys and (k, v) not in constant for k, v in split):
            return cut(self.short(name), width)
        cells = []
        for key, column in zip(self.keys, self.fitted(width), strict=True):
            cells.append(middle_truncate(by_key.get(key, ""), column).ljust(column))
        return (" " * GAP).join(cells).rstrip()

    def header(self, width: int) -> str:
        """The keys over the aligned values."""
        cells = [
            (cut(key, column) if column > 2 else key[:column]).ljust(column)  # `s`, not `…`, over a 1-cell column
            for key, column in zip(self.keys, self.fitted(width), strict=True)
        ]
        return (" " * GAP).join(cells).rstrip()

    def show(self, name: str, width: int, wide: bool = False) -> str:
        """The name as a list `width` cells wide shows it: whole (wide), pairs, or aligned values."""
        if wide:
            return name
        if width >= self.pairs_width or not self.aligned:
            return middle_truncate(self.short(name), width)
        return self.values(name, width)

    def mode(self, width: int, wide: bool = False) -> str:
        """`wide`, `pairs` or `values`: which of the texts above a list `width` cells wide shows."""
        if wide:
            return "wide"
        return "pairs" if width >= self.pairs_width or not self.aligned else "values"

    def constants_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.constants)


def _keep_paths(match: re.Match[str]) -> str:
    """A path found by `Names._shared_pattern` stays as it is; a shared pair goes."""
    return match.group(1) or ""
