"""Demo stage 3: 'evaluate' a trained model and write its score."""

import json
from pathlib import Path

from _common import duration, parse, work, write_json

args = parse(__doc__)
out = Path(args.out) / args.task
model = json.loads((out / "model.json").read_text())
work(f"evaluate {args.task}", duration("evaluate" + args.task, 0.8, 1.6), steps=3)
score = round(0.7 + 0.05 * args.seed + (0.1 if args.model == "resnet" else 0.0), 3)
write_json(out / "score.json", {"score": score, "epochs": model["epochs"]})
print(f"score {score}")
