"""`python -m bench.scale_tui CONFIG LAUNCHED PRESSES`: the TUI on a real background engine (W5).

Started by `bench/scale.py` as a process of its own, like `coopy-tui CONFIG` attaching to a running
engine: it imports the app, connects a `RemoteEngine` to the engine's socket (`daemon.connect`, the
real data path: the snapshot and the event stream over the socket), and runs `CoopyApp` under
Textual's headless driver (160 x 48). Printed as one JSON line:

- `first_frame_s`: from LAUNCHED (the parent's clock just before it spawned this process, so the
  interpreter's start and every import count) to the end of the first frame that shows run rows;
- j/k presses, timed as `bench/tui_load.py` times its move keys (stamped just before the driver gets
  the key, until the end of the first frame where the action ran and the table is in the frame, the
  frame's terminal encoding included), paced 30-120 ms apart, while the engine keeps running.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import sys
import time
from typing import Any


async def measure(config_path: str, launched: float, presses: int) -> dict[str, Any]:
    from textual.screen import Screen

    from bench.tui_load import FrameMeter, Probe, key_event, pct
    from coopy_core.loader import load_target
    from coopy_core.wire.daemon import connect
    from coopy_tui.app import CoopyApp

    first: list[float] = []
    app_ref: list[Any] = []
    original = Screen._compositor_refresh

    def first_frame(self: Any) -> None:  # class-wide until the first frame with rows, then put back
        original(self)
        app = app_ref[0] if app_ref else None
        if not first and app is not None and app.panels and app.panel.table.row_count:
            first.append(time.time())
            Screen._compositor_refresh = original  # type: ignore[method-assign]

    Screen._compositor_refresh = first_frame  # type: ignore[method-assign]
    connected_at = time.time()
    client = connect(load_target(config_path), events=True)
    result: dict[str, Any] = {"connect_s": round(time.time() - connected_at, 3)}
    made = time.time()
    app = CoopyApp(client, background=True)
    app_ref.append(app)
    result["app_made_s"] = round(time.time() - made, 3)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            loop = asyncio.get_running_loop()
            deadline = time.monotonic() + 120
            while not first and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            Screen._compositor_refresh = original  # type: ignore[method-assign]
            result["first_frame_s"] = round(first[0] - launched, 3) if first else None
            result["rows"] = app.panel.table.row_count
            await pilot.pause()
            settle = time.monotonic() + 3  # events keep coming: it may never be quite settled
            while not app.settled() and time.monotonic() < settle:
                await asyncio.sleep(0.05)
            meter = FrameMeter(app)
            calls = {"cursor_down": 0, "cursor_up": 0}
            for action in calls:
                owner = app.screen  # the main screen binds the keys and has their actions
                fn = getattr(owner, f"action_{action}")

                def wrapped(*args: Any, _fn: Any = fn, _name: str = action) -> Any:
                    out = _fn(*args)
                    calls[_name] += 1
                    return out

                setattr(owner, f"action_{action}", wrapped)
            rng = random.Random(7)
            latencies: list[float] = []
            missed = 0
            for i in range(presses):
                key = "k" if i % 4 == 3 else "j"
                name = "cursor_down" if key == "j" else "cursor_up"
                before = calls[name]
                future: asyncio.Future[float] = loop.create_future()
                meter.probe = Probe(
                    key,
                    "move",
                    time.perf_counter(),
                    lambda _n=name, _b=before: calls[_n] > _b,
                    lambda: (app.panel.table,),
                    future,
                )
                app._driver.send_message(key_event(key))
                try:
                    latencies.append(1000 * await asyncio.wait_for(future, 5.0))
                except TimeoutError:
                    missed += 1
                    meter.probe = None
                await asyncio.sleep(rng.uniform(0.03, 0.12))
            result["keys"] = {
                "presses": presses,
                "measured": len(latencies),
                "missed": missed,
                "median_ms": round(statistics.median(latencies), 1) if latencies else None,
                "p95_ms": round(pct(latencies, 0.95), 1) if latencies else None,
                "max_ms": round(max(latencies), 1) if latencies else None,
            }
    finally:
        Screen._compositor_refresh = original  # type: ignore[method-assign]
        client.close()
    return result


def main(argv: list[str]) -> int:
    config, launched, presses = argv[0], float(argv[1]), int(argv[2])
    print(json.dumps(asyncio.run(measure(config, launched, presses))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
