"""On a machine with a real NVIDIA GPU (no internet, no pip package beyond CooPy's `gpu` extra): run a pipeline
whose commands allocate GPU memory through the CUDA driver (ctypes on libcuda.so.1) and print what CooPy packed
(which GPU, how many runs at once) and measured (gpu_mem_peak_gb, gpu_energy_j) against what the commands
allocated.

    python -m bench.gpu_check [--runs 8] [--mem-gb 2] [--alloc-gb 1.5] [--hold 10]

Each run declares --mem-gb and allocates --alloc-gb (a context costs a few hundred MB more, which NVML shows
too); with --alloc-gb above --mem-gb a run uses more than it declared and CooPy counts what it uses.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ALLOCATE = r"""
import ctypes, json, os, sys, time
alloc_gb, hold, log = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
cuda = ctypes.CDLL("libcuda.so.1")
def check(what, ret):
    if ret != 0:
        sys.exit(f"{what} failed: CUDA error {ret}")
check("cuInit", cuda.cuInit(0))
device, context, pointer = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_void_p()
check("cuDeviceGet", cuda.cuDeviceGet(ctypes.byref(device), 0))  # the first of CUDA_VISIBLE_DEVICES
check("cuCtxCreate", cuda.cuCtxCreate_v2(ctypes.byref(context), 0, device))
size = int(alloc_gb * 1024**3)
check("cuMemAlloc", cuda.cuMemAlloc_v2(ctypes.byref(pointer), ctypes.c_size_t(size)))
start = time.time()
time.sleep(hold)
with open(log, "a") as f:
    f.write(json.dumps({"task": os.environ["COOPY_TASK"], "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
                        "start": start, "end": time.time(), "alloc_gb": alloc_gb}) + "\n")
cuda.cuMemFree_v2(pointer)
cuda.cuCtxDestroy_v2(context)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--mem-gb", type=float, default=2.0, help="what each run declares (gpu_mem_gb)")
    parser.add_argument("--alloc-gb", type=float, default=1.5, help="what each run allocates")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds each run holds its memory")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="coopy-gpu-check-"))
    script = folder / "allocate.py"
    script.write_text(ALLOCATE)
    log = folder / "runs.jsonl"
    command = [sys.executable, str(script), str(args.alloc_gb), str(args.hold), str(log)]
    cfg = folder / "coopy.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [pipeline]
            name = "gpu-check"
            poll_interval = 0.5
            [resources]
            gpus = "auto"
            [tasks.matrix]
            i = {list(range(args.runs))}
            [[stages]]
            name = "alloc"
            command = {json.dumps(command)}
            workers = {args.runs}
            resources = {{ gpus = 1, gpu_mem_gb = {args.mem_gb} }}
            """
        )
    )
    coopy = [sys.executable, "-m", "coopy_core.cli.main"]
    subprocess.run([*coopy, "gpus"], check=False)
    ran = subprocess.run([*coopy, "run", str(cfg)], check=False)
    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    results = subprocess.run([*coopy, "results", str(cfg), "--format", "json"], capture_output=True, text=True)
    measured = {row["task"]: row["metrics"] for row in json.loads(results.stdout or '{"rows": []}')["rows"]}
    print(f"\n{len(runs)} of {args.runs} runs allocated {args.alloc_gb:g} GB each, declaring {args.mem_gb:g} GB")
    for gpu in sorted({r["gpus"] for r in runs}):
        on = [r for r in runs if r["gpus"] == gpu]
        most = max(sum(1 for o in on if o["start"] < r["end"] and r["start"] < o["end"]) for r in on)
        print(f"gpu {gpu}: {len(on)} runs, at most {most} at once")
    for r in sorted(runs, key=lambda r: r["start"]):
        m = measured.get(r["task"], {})
        print(
            f"  {r['task']}: gpu {r['gpus']}, allocated {r['alloc_gb']:g} GB, NVML peak "
            f"{m.get('gpu_mem_peak_gb', '?')} GB, energy {m.get('gpu_energy_j', '?')} J"
        )
    print(f"(the pipeline and its state: {folder})")
    return ran.returncode


if __name__ == "__main__":
    raise SystemExit(main())
