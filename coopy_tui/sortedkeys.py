"""SortedKeys: a sorted set of unique keys with positions, for listing a stage's runs in a screen's order.

A run table keeps every run's sort key here (the key ends with something unique, the run's name), so
a run whose key changed moves with one removal and one insertion, a row's run is found by position,
and a run's row by bisection; nothing is ever re-sorted whole. The keys live in blocks of about
BLOCK (the layout of the `sortedcontainers` package, without the dependency): at a million keys an
insertion moves a block's worth of references, not half a million.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

BLOCK = 1000  # keys per block; a block twice this size is split

Key = tuple[Any, ...]


class SortedKeys:
    def __init__(self, keys: Iterable[Key] = (), *, presorted: bool = False) -> None:
        ordered = list(keys) if presorted else sorted(keys)
        self._blocks: list[list[Key]] = [ordered[i : i + BLOCK] for i in range(0, len(ordered), BLOCK)]
        self._maxes: list[Key] = [b[-1] for b in self._blocks]
        self._len = len(ordered)
        self._starts: list[int] | None = None  # each block's first position; None: rebuild on demand

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Key]:
        return itertools.chain.from_iterable(self._blocks)

    def __contains__(self, key: Key) -> bool:
        i = bisect.bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return False
        block = self._blocks[i]
        j = bisect.bisect_left(block, key)
        return j < len(block) and block[j] == key

    def add(self, key: Key) -> None:
        """Insert `key` (not present yet)."""
        maxes = self._maxes
        if not maxes:
            self._blocks.append([key])
            maxes.append(key)
        else:
            i = bisect.bisect_left(maxes, key)
            if i == len(maxes):
                i -= 1
                self._blocks[i].append(key)
                maxes[i] = key
            else:
                bisect.insort(self._blocks[i], key)
            block = self._blocks[i]
            if len(block) > 2 * BLOCK:
                self._blocks[i : i + 1] = [block[:BLOCK], block[BLOCK:]]
                maxes[i : i + 1] = [block[BLOCK - 1], block[-1]]
        self._len += 1
        self._starts = None

    def discard(self, key: Key) -> bool:
        """Remove `key`; False if it was not there."""
        maxes = self._maxes
        i = bisect.bisect_left(maxes, key)
        if i == len(maxes):
            return False
        block = self._blocks[i]
        j = bisect.bisect_left(block, key)
        if j == len(block) or block[j] != key:
            return False
        del block[j]
        if block:
            maxes[i] = block[-1]
        else:
            del self._blocks[i]
            del maxes[i]
        self._len -= 1
        self._starts = None
        return True

    def _block_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *itertools.accumulate(len(b) for b in self._blocks)][:-1]
        return self._starts

    def bisect(self, key: Key) -> int:
        """The position `key` has, or would have if it were added."""
        maxes = self._maxes
        i = bisect.bisect_left(maxes, key)
        if i == len(maxes):
            return self._len
        return self._block_starts()[i] + bisect.bisect_left(self._blocks[i], key)

    def index(self, key: Key) -> int:
        """The position of `key`; ValueError if it is not there."""
        pos = self.bisect(key)
        if pos >= self._len or self[pos] != key:
            raise ValueError("key not present")
        return pos

    def __getitem__(self, pos: int) -> Key:
        if pos < 0:
            pos += self._len
        if not 0 <= pos < self._len:
            raise IndexError("position out of range")
        starts = self._block_starts()
        i = bisect.bisect_right(starts, pos) - 1
        return self._blocks[i][pos - starts[i]]

    def slice(self, start: int, stop: int) -> list[Key]:
        """The keys at positions start .. stop-1 (clipped to the keys there are)."""
        start, stop = max(0, start), min(stop, self._len)
        if start >= stop:
            return []
        starts = self._block_starts()
        i = bisect.bisect_right(starts, start) - 1
        out: list[Key] = []
        offset = start - starts[i]
        want = stop - start
        while len(out) < want and i < len(self._blocks):
            block = self._blocks[i]
            out.extend(block[offset : offset + want - len(out)])
            offset = 0
            i += 1
        return out
