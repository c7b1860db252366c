"""Demo stage 4, a fan-in: one run per model, over all of its seeds' scores (given as arguments)."""

import argparse
import json
from pathlib import Path

from _common import write_json

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--name", required=True)
p.add_argument("--out", required=True)
p.add_argument("scores", nargs="+", help="score.json files, one per configuration")
args = p.parse_args()
scores = [json.loads(Path(path).read_text())["score"] for path in args.scores]
mean = sum(scores) / len(scores)
write_json(Path(args.out), {"name": args.name, "n": len(scores), "mean": round(mean, 4), "best": max(scores)})
print(f"{args.name}: {len(scores)} seeds, mean score {mean:.3f}, best {max(scores):.3f}")
