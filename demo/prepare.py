"""Demo stage 1: 'download and tokenize' a dataset for one configuration."""

from pathlib import Path

from _common import duration, parse, work, write_json

args = parse(__doc__)
out = Path(args.out) / args.task
work(f"prepare {args.task}", duration("prepare" + args.task, 1.0, 2.5))
write_json(out / "data.json", {"model": args.model, "seed": args.seed, "rows": 1000 + args.seed})
print(f"wrote {out / 'data.json'}")
