"""Demo stage 2: 'train' a model; one configuration runs out of memory on its first attempt."""

import json
from pathlib import Path

from _common import duration, fail, parse, work, write_json

args = parse(__doc__)
out = Path(args.out) / args.task
data = json.loads((out / "data.json").read_text())
seconds = duration("train" + args.task, 3.0, 6.0) * (1.5 if args.model == "resnet" else 1.0)
if args.model == "resnet" and args.seed == 2 and args.attempt == 1:
    work(f"train {args.task} epoch", seconds / 3, steps=2)
    fail("CUDA out of memory (simulated): the retry will succeed")
epochs = 6
for epoch in range(1, epochs + 1):
    work(f"train {args.task} epoch {epoch}/{epochs}", seconds / epochs, steps=1)
    print(f"epoch {epoch}: loss {1.0 / (epoch + args.seed / 10):.3f}", flush=True)
write_json(out / "model.json", {"trained_on": data["rows"], "epochs": epochs})
print(f"wrote {out / 'model.json'}")
