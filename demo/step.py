"""A generic demo step for demo/graph.toml: takes a moment, then writes a small JSON result.

`python3 step.py KIND --out FILE [INPUT ...]`: the result names its inputs, so what a step was made
from can be checked by looking at it.
"""

import argparse
import json
from pathlib import Path

from _common import duration, work, write_json

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("kind")
p.add_argument("--out", required=True)
p.add_argument("inputs", nargs="*")
args = p.parse_intermixed_args()
for path in args.inputs:
    json.loads(Path(path).read_text())  # an input that is not there fails the step
work(f"{args.kind} {args.out}", duration(args.kind + args.out, 0.5, 1.5), steps=3)
write_json(Path(args.out), {"kind": args.kind, "inputs": args.inputs})
print(f"wrote {args.out}")
