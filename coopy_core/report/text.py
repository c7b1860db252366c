"""Small text pieces the report's sections share: escaping, durations, short run labels."""

from __future__ import annotations

import html
from collections.abc import Sequence

NO_CHARTS = (
    '<p class="note">Charts need matplotlib, which is not installed here: '
    "<code>pip install 'coopy[report]'</code> and write the report again.</p>"
)


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def short_label(params: dict[str, object], varying: Sequence[str], fallback: str) -> str:
    """A run named by the values of the params that differ (`cifar · cnn · 3`), not by `dataset=cifar,…`."""
    values = [str(params[p]) for p in varying if p in params]
    return " · ".join(values) if values else fallback
