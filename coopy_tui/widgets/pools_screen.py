"""PoolsScreen (`u`): the resource pools (GPU ids, amounts), what is in use, and resizing them.

Typing `gpus=0,1,2` or `mem_gb=32` and enter resizes a pool through the engine command; the engine's
refusal, if any, is shown in place. Runs already holding resources keep them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

SetPool = Callable[[str, list[int | str] | float], None]


def pools_table(pools: Mapping[str, Mapping[str, Any]]) -> Table:
    table = Table(box=None, padding=(0, 2), header_style="bold")
    for column in ("pool", "size", "in use", "free"):
        table.add_column(column, no_wrap=True)
    for name, view in pools.items():
        size = view.get("size")
        ids = isinstance(size, list)
        shown = ",".join(str(i) for i in size) if isinstance(size, list) else f"{size:g}"
        free = ",".join(view.get("free") or []) if ids else f"{max(0.0, view['capacity'] - view['used']):g}"
        table.add_row(name, shown, f"{view['used']:g}", free or "–")
    return table


def parse_size(text: str, pools: Mapping[str, Mapping[str, Any]]) -> tuple[str, list[int | str] | float]:
    """`gpus=0,1,2` -> ("gpus", ["0", "1", "2"]); `mem_gb=32` -> ("mem_gb", 32.0)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        raise ValueError("type POOL=SIZE, e.g. gpus=0,1,2 or mem_gb=32")
    if name not in pools:
        raise ValueError(f"no pool named {name!r}")
    if isinstance(pools[name].get("size"), list):
        ids: list[int | str] = [part.strip() for part in value.split(",") if part.strip()]
        return name, ids
    try:
        return name, float(value)
    except ValueError:
        raise ValueError(f"the pool {name!r} takes an amount, e.g. {name}=32") from None


class PoolsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "close", key_display="esc")]

    def __init__(
        self,
        pools: Mapping[str, Mapping[str, Any]],
        set_pool: SetPool,
        live: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        super().__init__()
        self.pools = dict(pools)
        self.set_pool = set_pool
        self.live = live  # the pools as the engine last told (GPUs read from NVML change while it is open)

    def on_mount(self) -> None:
        if self.live is not None and self.pools:
            self.set_interval(0.5, self._refresh)

    def _refresh(self) -> None:
        assert self.live is not None
        pools = dict(self.live())
        if pools == self.pools:
            return
        self.pools = pools
        self.query_one("#pools-table", Static).update(pools_table(pools))
        lines = pools.get("gpus", {}).get("gpus")
        for widget in self.query("#pools-gpus").results(Static):
            widget.update("\n".join(lines or []))

    def compose(self) -> ComposeResult:
        with Vertical(id="pools-box") as box:
            box.border_title = "resource pools"
            box.border_subtitle = "enter resize · esc close"
            if self.pools:
                yield Static(pools_table(self.pools), id="pools-table")
                lines = self.pools.get("gpus", {}).get("gpus")
                if lines:  # GPUs read from NVML: what is on each (gpus = "auto", gpu_others, gpu_mem_gb)
                    yield Static("\n".join(lines), id="pools-gpus", markup=False)
                yield Input(placeholder="resize: gpus=0,1,2  or  mem_gb=32", id="pools-input")
            else:
                yield Static(
                    "No resource pools: add a [resources] table to the config.", id="pools-table", markup=False
                )
            yield Static("", id="pools-error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.query_one("#pools-error", Static)
        try:
            name, size = parse_size(event.value, self.pools)
            self.set_pool(name, size)
        except Exception as exc:  # noqa: BLE001 - the engine's refusal, shown where it was asked
            error.update(str(exc))
            return
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
