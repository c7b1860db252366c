"""The run table's columns fitted to a width: the name is shortened before a state is cut."""

from __future__ import annotations

from coopy_tui.format import middle_truncate
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, fit


def test_columns_shorten_the_name_before_a_state_is_cut() -> None:
    keys = [c.key for c in DEFAULT_COLUMNS]
    for width in range(20, 200):
        widths = dict(zip(keys, fit(DEFAULT_COLUMNS, width, 19), strict=True))
        assert widths["state"] == 10  # "cancelled", "retry 10s": never clipped
        assert sum(widths.values()) <= max(width, 20)
        if widths["priority"] or widths["attempt"] or widths["elapsed"]:
            assert widths["task"] == 22  # optional columns only once the name is whole
        assert widths["last"] == 0 or widths["last"] >= 12
    assert middle_truncate("model=resnet,seed=2", 14) == "model=r…seed=2"
