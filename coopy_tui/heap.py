"""HeapFreezer: keep the garbage collector's full passes rare and short while the app runs.

A full pass walks every live object and stops the screen while it runs: at 10,000 runs one took
~90 ms, and with Python's default thresholds the frames' short-lived objects got promoted so fast
that one ran about once a second under load. So: what start-up built (the snapshot's runs, the
widgets) is frozen out of the passes (collected once first, so no garbage is frozen), and the
youngest generation is collected every 50,000 allocations instead of 700, so a frame's objects die
young. Both are undone by `thaw` (on unmount).
"""

from __future__ import annotations

import gc

GC_THRESHOLD = (50_000, 20, 10)  # while the app runs


class HeapFreezer:
    def __init__(self) -> None:
        self.frozen = False
        self._threshold = gc.get_threshold()

    def freeze(self) -> None:
        if not self.frozen:
            gc.collect()
            gc.freeze()
            self.frozen = True
            self._threshold = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLD)

    def thaw(self) -> None:
        if self.frozen:
            self.frozen = False
            gc.unfreeze()
            gc.set_threshold(*self._threshold)
