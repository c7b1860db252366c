"""Synthetic data for the variant-calling example: a random genome and, per sample, reads with a few
SNPs of its own (deterministic: the same files every time). Stands in for the Snakemake tutorial's data.

    python3 make_data.py [--samples A B C] [--length 20000] [--reads 3000]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

BASES = "ACGT"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--samples", nargs="+", default=["A", "B", "C"])
    p.add_argument("--length", type=int, default=20_000)
    p.add_argument("--reads", type=int, default=3_000)
    p.add_argument("--read-length", type=int, default=100)
    args = p.parse_args()
    rng = random.Random(7)
    genome = "".join(rng.choice(BASES) for _ in range(args.length))
    data = Path("data")
    (data / "samples").mkdir(parents=True, exist_ok=True)
    lines = [">chr1"] + [genome[i : i + 60] for i in range(0, len(genome), 60)]
    (data / "genome.fa").write_text("\n".join(lines) + "\n")
    shared = rng.sample(range(200, args.length - 200), 8)  # every sample has these
    for sample in args.samples:
        own = rng.sample(range(200, args.length - 200), 4)
        seq = list(genome)
        for pos in shared + own:
            seq[pos] = rng.choice([b for b in BASES if b != genome[pos]])
        mutated = "".join(seq)
        out = []
        for n in range(args.reads):
            start = rng.randrange(0, args.length - args.read_length)
            read = mutated[start : start + args.read_length]
            out += [f"@{sample}_{n}", read, "+", "I" * len(read)]
        (data / "samples" / f"{sample}.fastq").write_text("\n".join(out) + "\n")
    print(f"wrote data/genome.fa ({args.length} bp) and {len(args.samples)} samples x {args.reads} reads")


if __name__ == "__main__":
    main()
