"""Demo stage 2: 'train' a model; one configuration runs out of memory on its first attempt.

It reports its loss as it trains: one JSON line per step appended to the file CooPy names in $COOPY_METRICS
(the TUI shows the latest value and a sparkline; `coopy results` and `coopy report` the rest).
"""

import json
import math
import os
import time
from pathlib import Path

from _common import duration, fail, parse, work, write_json

FINAL_LOSS = {"mlp": 0.42, "cnn": 0.27, "resnet": 0.19}  # what each model converges to, roughly
STEPS_PER_EPOCH = 4

args = parse(__doc__)
out = Path(args.out) / args.task
data = json.loads((out / "data.json").read_text())
seconds = duration("train" + args.task, 3.0, 6.0) * (1.5 if args.model == "resnet" else 1.0)
metrics_file = os.environ.get("COOPY_METRICS")  # set by CooPy; absent when run by hand
if args.model == "resnet" and args.seed == 2 and args.attempt == 1:
    work(f"train {args.task} epoch", seconds / 3, steps=2)
    fail("CUDA out of memory (simulated): the retry will succeed")


def report(**values: float) -> None:
    if metrics_file:
        with open(metrics_file, "a") as f:
            f.write(json.dumps(values) + "\n")


epochs = 6
final = FINAL_LOSS.get(args.model, 0.5) + 0.03 * (duration("noise" + args.task, -1.0, 1.0))
loss = 1.0
for epoch in range(1, epochs + 1):
    for step in range(1, STEPS_PER_EPOCH + 1):
        time.sleep(seconds / epochs / STEPS_PER_EPOCH)
        n = (epoch - 1) * STEPS_PER_EPOCH + step
        wobble = 0.04 * math.sin(n * 1.7 + args.seed)
        loss = final + (1.2 - final) * math.exp(-n / 5) + wobble * math.exp(-n / 12)
        report(step=n, loss=round(loss, 4), train_accuracy=round(max(0.0, 1 - loss * 0.8), 4))
    print(f"train {args.task} epoch {epoch}/{epochs}: step 1/1", flush=True)  # once an epoch (tests count it)
    print(f"epoch {epoch}: loss {loss:.3f}", flush=True)
write_json(out / "model.json", {"trained_on": data["rows"], "epochs": epochs, "loss": round(loss, 4)})
print(f"wrote {out / 'model.json'}")
