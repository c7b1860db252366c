"""The last step: a histogram of the called variants' QUAL values, as a small self-contained SVG."""

from __future__ import annotations

import sys
from pathlib import Path


def main(vcf: str, out: str) -> None:
    quals = []
    for line in Path(vcf).read_text().splitlines():
        if line and not line.startswith("#"):
            quals.append(float(line.split("\t")[5]))
    bins = [0] * 10
    top = max(quals, default=1.0) or 1.0
    for q in quals:
        bins[min(9, int(q / top * 10))] += 1
    height = max(bins, default=1) or 1
    bars = "".join(
        f'<rect x="{20 + i * 30}" y="{170 - 150 * n / height:.1f}" width="26" height="{150 * n / height:.1f}"/>'
        for i, n in enumerate(bins)
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="340" height="200">'
        f"<title>{len(quals)} variants, QUAL up to {top:g}</title>{bars}</svg>\n"
    )
    print(f"{len(quals)} variants plotted to {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
